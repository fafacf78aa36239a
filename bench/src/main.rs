//! `iwa-bench`: the load tester's tool for Kerberos gateways (issue 5). This first part makes
//! the token files a load run needs; see bench/README.md.
//!
//! ```text
//! iwa-bench mint --keytab FILE --spn HTTP/gw.corp.example@CORP.EXAMPLE --users alice,bob
//!     [--count N] [--groups G] [--enctype aes256|aes128|rc4] [--format spnego|raw]
//!     [--skew SECONDS] --out FILE --i-understand-this-forges-tickets
//! iwa-bench inspect FILE
//! ```

mod mint;
mod tokens;

use std::io::{BufReader, BufWriter};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use kdc_bridge::proto::acceptor::Randomness;
use kdc_bridge::proto::crypto::Enctype;
use kdc_bridge::proto::keytab::Keytab;
use kdc_bridge::proto::krb::asn1::format_rfc3339;
use kdc_bridge::proto::principal::Principal;

use crate::mint::KeytabMint;
use crate::tokens::{Format, TokenFile};

#[derive(Parser)]
#[command(
    name = "iwa-bench",
    version,
    about = "Load testing for Kerberos (HTTP Negotiate) gateways"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Mint unique tokens offline with the service keytab (load tests only).
    Mint(MintArgs),
    /// Print a token file's header and whether its tokens are still valid.
    Inspect {
        /// The token file.
        file: PathBuf,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum EnctypeArg {
    Aes256,
    Aes128,
    Rc4,
}

#[derive(Clone, Copy, ValueEnum)]
enum FormatArg {
    Spnego,
    Raw,
}

#[derive(clap::Args)]
struct MintArgs {
    /// The service keytab (the gateway's).
    #[arg(long)]
    keytab: PathBuf,
    /// The service principal, e.g. HTTP/gw.corp.example@CORP.EXAMPLE.
    #[arg(long)]
    spn: String,
    /// Client user names (the SPN's realm), comma separated.
    #[arg(long, value_delimiter = ',', required = true)]
    users: Vec<String>,
    /// Tokens per user.
    #[arg(long, default_value_t = 1000)]
    count: usize,
    /// Groups in each ticket's PAC (0: no PAC).
    #[arg(long, default_value_t = 10)]
    groups: usize,
    /// The session key's enctype.
    #[arg(long, value_enum, default_value = "aes256")]
    enctype: EnctypeArg,
    /// SPNEGO (what browsers send) or raw Kerberos tokens.
    #[arg(long, value_enum, default_value = "spnego")]
    format: FormatArg,
    /// The acceptor's allowed clock skew (seconds), for the file's valid-until.
    #[arg(long, default_value_t = 300)]
    skew: i64,
    /// Where to write the token file.
    #[arg(long)]
    out: PathBuf,
    /// Required: minting makes valid tickets for the service from its key (see bench/README.md).
    #[arg(long)]
    i_understand_this_forges_tickets: bool,
}

struct OsRandom;

impl Randomness for OsRandom {
    fn fill(&mut self, buf: &mut [u8]) {
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, buf);
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

fn run_mint(a: MintArgs) -> Result<(), String> {
    if !a.i_understand_this_forges_tickets {
        return Err(
            "minting builds valid Kerberos tickets for the service from its keytab: it is \
                    for load tests of a gateway you run. Add --i-understand-this-forges-tickets \
                    (see bench/README.md, \"Is minting safe?\")"
                .into(),
        );
    }
    let bytes = std::fs::read(&a.keytab).map_err(|e| format!("{}: {e}", a.keytab.display()))?;
    let keytab = Keytab::extract(&bytes).map_err(|e| format!("{}: {e}", a.keytab.display()))?;
    let spn = Principal::parse(&a.spn).map_err(|e| format!("--spn: {e}"))?;
    let spec = KeytabMint {
        spn,
        users: a.users,
        per_user: a.count,
        groups: a.groups,
        session_enctype: match a.enctype {
            EnctypeArg::Aes256 => Enctype::Aes256CtsHmacSha196,
            EnctypeArg::Aes128 => Enctype::Aes128CtsHmacSha196,
            EnctypeArg::Rc4 => Enctype::Rc4Hmac,
        },
        format: match a.format {
            FormatArg::Spnego => Format::Spnego,
            FormatArg::Raw => Format::Raw,
        },
        skew_secs: a.skew,
    };
    let started = std::time::Instant::now();
    let file = mint::mint(&keytab, &spec, now(), &mut OsRandom)?;
    let out = std::fs::File::create(&a.out).map_err(|e| format!("{}: {e}", a.out.display()))?;
    file.write(BufWriter::new(out))
        .map_err(|e| format!("{}: {e}", a.out.display()))?;
    eprintln!(
        "iwa-bench: {} tokens for {} in {:.2} s, valid until {} (mint again right before a run)",
        file.tokens.len(),
        file.header.spn,
        started.elapsed().as_secs_f64(),
        format_rfc3339(file.header.valid_until)
    );
    Ok(())
}

fn run_inspect(path: &PathBuf) -> Result<(), String> {
    let f = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let file =
        TokenFile::read(BufReader::new(f)).map_err(|e| format!("{}: {e}", path.display()))?;
    let h = &file.header;
    #[allow(clippy::print_stdout)]
    {
        println!("spn:         {}", h.spn);
        println!("tokens:      {}", file.tokens.len());
        println!("minted:      {}", format_rfc3339(h.minted));
        println!("valid until: {}", format_rfc3339(h.valid_until));
        println!(
            "state:       {}",
            file.age_warning(now()).unwrap_or_else(|| "valid".into())
        );
    }
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Mint(a) => run_mint(a),
        Command::Inspect { file } => run_inspect(&file),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("iwa-bench: {e}");
            ExitCode::from(2)
        }
    }
}

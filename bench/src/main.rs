//! `iwa-bench`: the load tester's tool for Kerberos gateways (issue 5); see bench/README.md.
//!
//! ```text
//! iwa-bench mint --keytab FILE --spn HTTP/gw.corp.example@CORP.EXAMPLE --users alice,bob
//!     [--count N] [--groups G] [--enctype aes256|aes128|rc4] [--format spnego|raw]
//!     [--skew SECONDS] --out FILE --i-understand-this-forges-tickets
//! iwa-bench mint --kdc --spn HTTP/gw.corp.example@CORP.EXAMPLE (--password-file F | --ccache)
//!     [--count N] [--format spnego|raw] --out FILE
//! iwa-bench inspect FILE
//! iwa-bench run --url URL [--tokens FILE] [--scenario negotiate|session|plain|saml-sso|mixed]
//!     [--connections N] [--rate R] [--duration S | --requests N] [--json F] [--markdown F] …
//! iwa-bench compare --a URL --b URL --tokens FILE [--rounds N] …
//! iwa-bench idle --url URL --connections N [--server-pid P]
//! iwa-bench null-server --listen ADDR
//! ```

mod chart;
mod cli_load;
mod compare;
mod idle;
mod kdc_mint;
mod load;
mod mint;
mod null_server;
mod procstat;
mod report;
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
    /// Load a target with a scenario and report throughput, latency and CPU.
    Run(cli_load::RunArgs),
    /// The same scenario against two targets, A B A B, with the ratios.
    Compare(cli_load::CompareArgs),
    /// Hold many idle keep-alive connections and report the server's memory.
    Idle(cli_load::IdleArgs),
    /// A trivial HTTP server (200 ok), to measure the loader's own ceiling.
    NullServer {
        /// Where to listen (port 0: any free port; the address is printed).
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: std::net::SocketAddr,
        /// Worker threads (default: the machine's cores).
        #[arg(long)]
        threads: Option<usize>,
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
    /// Offline: the service keytab (the gateway's).
    #[arg(long, conflicts_with = "kdc", required_unless_present = "kdc")]
    keytab: Option<PathBuf>,
    /// Real tickets from the KDC (MIT GSSAPI; KRB5_CONFIG as usual).
    #[arg(long)]
    kdc: bool,
    /// --kdc: a file of user:password lines (one sign-in per user).
    #[arg(long, requires = "kdc", conflicts_with = "ccache")]
    password_file: Option<PathBuf>,
    /// --kdc: use the credential cache's user (KRB5CCNAME, after kinit).
    #[arg(long, requires = "kdc")]
    ccache: bool,
    /// The service principal: HTTP/gw.corp.example@CORP.EXAMPLE (or HTTP@gw.corp.example
    /// with --kdc).
    #[arg(long)]
    spn: String,
    /// --keytab: client user names (the SPN's realm), comma separated.
    #[arg(long, value_delimiter = ',', required_unless_present = "kdc")]
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

/// Unix seconds now.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

fn write_tokens(
    file: &TokenFile,
    out: &PathBuf,
    started: std::time::Instant,
) -> Result<(), String> {
    let f = std::fs::File::create(out).map_err(|e| format!("{}: {e}", out.display()))?;
    file.write(BufWriter::new(f))
        .map_err(|e| format!("{}: {e}", out.display()))?;
    eprintln!(
        "iwa-bench: {} tokens for {} in {:.2} s, valid until {} (mint again right before a run)",
        file.tokens.len(),
        file.header.spn,
        started.elapsed().as_secs_f64(),
        format_rfc3339(file.header.valid_until)
    );
    Ok(())
}

fn run_mint_kdc(a: MintArgs) -> Result<(), String> {
    let users = match (&a.password_file, a.ccache) {
        (Some(p), _) => {
            let text = std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?;
            kdc_mint::Users::Passwords(
                kdc_mint::parse_password_file(&text)
                    .map_err(|e| format!("{}: {e}", p.display()))?,
            )
        }
        (None, true) => kdc_mint::Users::Ccache,
        (None, false) => return Err("--kdc needs --password-file FILE or --ccache".into()),
    };
    let spec = kdc_mint::KdcMint {
        spn: a.spn,
        users,
        per_user: a.count,
        format: match a.format {
            FormatArg::Spnego => Format::Spnego,
            FormatArg::Raw => Format::Raw,
        },
        skew_secs: a.skew,
    };
    let started = std::time::Instant::now();
    let file = kdc_mint::mint(&spec, now())?;
    write_tokens(&file, &a.out, started)
}

fn run_mint(a: MintArgs) -> Result<(), String> {
    if a.kdc {
        return run_mint_kdc(a);
    }
    let Some(keytab_path) = a.keytab else {
        return Err("give --keytab FILE or --kdc".into());
    };
    if !a.i_understand_this_forges_tickets {
        return Err(
            "minting builds valid Kerberos tickets for the service from its keytab: it is \
                    for load tests of a gateway you run. Add --i-understand-this-forges-tickets \
                    (see bench/README.md, \"Is minting safe?\")"
                .into(),
        );
    }
    let bytes =
        std::fs::read(&keytab_path).map_err(|e| format!("{}: {e}", keytab_path.display()))?;
    let keytab = Keytab::extract(&bytes).map_err(|e| format!("{}: {e}", keytab_path.display()))?;
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
    write_tokens(&file, &a.out, started)
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
        Command::Run(a) => cli_load::run(a),
        Command::Compare(a) => cli_load::compare(a),
        Command::Idle(a) => cli_load::idle(a),
        Command::NullServer { listen, threads } => cli_load::null_server(listen, threads),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("iwa-bench: {e}");
            ExitCode::from(2)
        }
    }
}

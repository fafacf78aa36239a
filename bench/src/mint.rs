//! `iwa-bench mint --keytab`: valid tickets and AP-REQs built offline with the service key, for
//! load tests only. Each token is a new ticket with a new session key, a PAC with the chosen
//! number of groups and a valid server checksum, and a unique authenticator (`ctime`, `cusec`),
//! so the acceptor's replay cache never refuses one: a million in seconds, where a KDC issues a
//! few thousand a second.
//!
//! Why this is safe to ship: the service key already lets its holder make any ticket for that
//! service (that is what a keytab is). Minting grants nothing the keytab did not; it cannot make
//! tickets for any other service, and the CLI refuses to run without
//! `--i-understand-this-forges-tickets`.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use kdc_bridge::proto::acceptor::Randomness;
use kdc_bridge::proto::crypto::{Enctype, Key, KeyUsage};
use kdc_bridge::proto::keytab::Keytab;
use kdc_bridge::proto::mint::{mint_ap_req, raw_token, spnego_token, TokenSpec};
use kdc_bridge::proto::pac::build::{build_authorization_data, PacSpec};
use kdc_bridge::proto::principal::Principal;
use kdc_bridge::proto::spnego::KrbOid;

use crate::tokens::{Format, Header, Source, TokenFile};

/// What to mint.
#[derive(Debug, Clone)]
pub struct KeytabMint {
    /// The service the tokens are for.
    pub spn: Principal,
    /// Client user names (without realm; the SPN's realm is used).
    pub users: Vec<String>,
    /// Tokens per user.
    pub per_user: usize,
    /// Groups in each PAC (0: no PAC).
    pub groups: usize,
    /// The session key's enctype.
    pub session_enctype: Enctype,
    /// SPNEGO or raw.
    pub format: Format,
    /// The acceptor's allowed clock skew (for `valid-until`).
    pub skew_secs: i64,
}

/// The service key the tokens' tickets are encrypted with: the SPN's newest kvno, its
/// strongest enctype.
fn service_key(keytab: &Keytab, spn: &Principal) -> Result<(Key, u32), String> {
    let rank = |e: Enctype| match e {
        Enctype::Aes256CtsHmacSha196 => 3,
        Enctype::Aes128CtsHmacSha196 => 2,
        _ => 1,
    };
    keytab
        .entries
        .iter()
        .filter(|e| e.principal.matches(spn))
        .filter_map(|e| e.key.as_ref().map(|k| (k, e.kvno)))
        .max_by_key(|(k, kvno)| (*kvno, rank(k.enctype())))
        .map(|(k, kvno)| (k.clone(), kvno))
        .ok_or_else(|| format!("the keytab has no usable key for {spn}"))
}

/// Mints `per_user` tokens for each user, at `now` (Unix seconds).
pub fn mint(
    keytab: &Keytab,
    spec: &KeytabMint,
    now: i64,
    rng: &mut dyn Randomness,
) -> Result<TokenFile, String> {
    if spec.users.is_empty() || spec.per_user == 0 {
        return Err("nothing to mint: give at least one user and a count above 0".into());
    }
    let (key, kvno) = service_key(keytab, &spec.spn)?;
    let realm = spec.spn.realm().to_owned();
    let pac_key = key
        .usage_key(KeyUsage::PAC_CHECKSUM)
        .map_err(|e| format!("the service key cannot sign a PAC: {e}"))?;
    let mut tokens = Vec::with_capacity(spec.users.len() * spec.per_user);
    // A random first microsecond: two files minted in the same second do not share their
    // (ctime, cusec) slots (unless they are large enough to overlap).
    let mut start = [0u8; 4];
    rng.fill(&mut start);
    let first = u64::from(u32::from_le_bytes(start) % 1_000_000);
    let mut serial: u64 = first;
    for user in &spec.users {
        let client = Principal::parse(&format!("{user}@{realm}"))
            .map_err(|e| format!("user `{user}`: {e}"))?;
        let pac = if spec.groups == 0 {
            None
        } else {
            let built = PacSpec::new(user, &realm, now, spec.groups)
                .build(&pac_key, &pac_key)
                .map_err(|e| format!("PAC for `{user}`: {e}"))?;
            Some(build_authorization_data(&built))
        };
        for _ in 0..spec.per_user {
            let mut t = TokenSpec::new(client.clone(), spec.session_enctype, now);
            t.authorization_data.clone_from(&pac);
            // Unique (ctime, cusec) per client: the replay cache keys on them. Each user's
            // tokens continue the same sequence, so no two tokens of the file share a slot.
            t.ctime = now + i64::try_from(serial / 1_000_000).unwrap_or(0);
            t.cusec = u32::try_from(serial % 1_000_000).unwrap_or(0);
            serial += 1;
            let minted = mint_ap_req(&spec.spn, &key, Some(kvno), &t, rng);
            let token = match spec.format {
                Format::Spnego => spnego_token(&minted.ap_req, KrbOid::Microsoft),
                Format::Raw => raw_token(&minted.ap_req),
            };
            tokens.push(STANDARD.encode(token));
        }
    }
    Ok(TokenFile {
        header: Header {
            realm,
            spn: spec.spn.to_string(),
            source: Source::Keytab,
            format: spec.format,
            minted: now,
            // The first authenticator's time is `now`; later ones are later.
            valid_until: now + spec.skew_secs,
        },
        tokens,
    })
}

#[cfg(test)]
#[path = "mint_test.rs"]
mod tests;

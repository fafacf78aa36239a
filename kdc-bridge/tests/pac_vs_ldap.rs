//! Issue 3 §6: the group SIDs of a real ticket's PAC are the `tokenGroups` of the same user
//! in LDAP, for the nested-group user (alice) and the 300-group user (carol).
//!
//! The two sides differ by well-known SIDs only one of them carries:
//! - only the PAC: `S-1-18-1` ("authentication authority asserted identity"), which the KDC
//!   adds to every ticket of a password logon ([MS-PAC §2.2.1] / [MS-KILE §3.3.5.7.4]); it is a
//!   property of the logon, not of the account, so `tokenGroups` never has it;
//! - only `tokenGroups`: `S-1-5-32-545` (BUILTIN\Users), a domain-local alias of the DC's
//!   BUILTIN domain. Aliases of the BUILTIN domain are expanded by the resource server from its
//!   own SAM, never put in a ticket ([MS-PAC §2.2.1]: the KDC puts the account's global and
//!   universal groups, and domain-local ones only as resource groups of its own domain).
//!
//! Needs the test AD DC (`tests/ad/samba-ad.sh up`) and MIT's GSSAPI client.

mod ldap_common;

use std::collections::BTreeSet;
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use kdc_bridge::net::ldap::{Directory, NoopObserver, UserKey};
use kdc_bridge::proto::acceptor::{AcceptRequest, Acceptor, AcceptorConfig, PacPolicy, Randomness};
use kdc_bridge::proto::keys::ServiceKeys;
use kdc_bridge::proto::keytab::Keytab;
use kdc_bridge::proto::pac::Sid;
use kdc_bridge::proto::principal::Principal;
use kdc_bridge::proto::replay::MemoryReplayCache;
use ldap_common::{ad, dc_ldaps};
use libgssapi::context::{ClientCtx, CtxFlags};
use libgssapi::name::Name;
use libgssapi::oid::{GSS_MECH_SPNEGO, GSS_NT_HOSTBASED_SERVICE};

/// Only in PACs.
const ASSERTED_IDENTITY: &str = "S-1-18-1";
/// Only in `tokenGroups`.
const BUILTIN_USERS: &str = "S-1-5-32-545";

struct Zeros;

impl Randomness for Zeros {
    fn fill(&mut self, buf: &mut [u8]) {
        buf.fill(7);
    }
}

/// A fresh SPNEGO token of `user` for `HTTP/gw.corp.test`, from MIT's GSSAPI.
fn token(user: &str) -> Vec<u8> {
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/ad/samba-ad.sh");
    let out = Command::new(&script)
        .args(["kinit", user])
        .output()
        .expect("samba-ad.sh kinit runs");
    assert!(out.status.success(), "kinit {user}: {out:?}");
    let ccache = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    // GSSAPI reads these from the environment; every test of this binary sets the same
    // KRB5_CONFIG, and each runs its own ccache under a lock.
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _guard = LOCK.lock().unwrap_or_else(|p| p.into_inner());
    std::env::set_var("KRB5_CONFIG", ad().var("KRB5_CONFIG"));
    std::env::set_var("KRB5CCNAME", format!("FILE:{ccache}"));
    let name = Name::new(b"HTTP@gw.corp.test", Some(GSS_NT_HOSTBASED_SERVICE)).unwrap();
    let mut ctx = ClientCtx::new(
        None,
        name,
        CtxFlags::GSS_C_MUTUAL_FLAG,
        Some(GSS_MECH_SPNEGO),
    );
    ctx.step(None, None)
        .expect("gss_init_sec_context")
        .expect("a token")
        .to_vec()
}

/// The PAC's group SIDs of a real ticket of `user`, verified by the acceptor.
fn pac_groups(user: &str) -> BTreeSet<String> {
    let keytab = std::fs::read(ad().var("IWA_AD_GW_KEYTAB")).unwrap();
    let keys = ServiceKeys::from_keytab(&Keytab::extract(&keytab).unwrap());
    let acceptor = Acceptor::new(AcceptorConfig {
        spns: vec![Principal::parse("HTTP/gw.corp.test@CORP.TEST").unwrap()],
        pac: PacPolicy::Require,
        ..AcceptorConfig::default()
    });
    let replay = MemoryReplayCache::new(Duration::from_secs(600), 100);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let token = token(user);
    let req = AcceptRequest {
        token: &token,
        now,
        channel_binding: None,
    };
    let ok = acceptor
        .accept(&keys, &replay, &mut Zeros, &req)
        .unwrap_or_else(|e| panic!("{user}'s token: {e}"));
    let pac = ok.pac.expect("a verified PAC");
    pac.group_sids.iter().map(Sid::to_string).collect()
}

/// The `tokenGroups` SIDs of `user`.
fn token_groups(user: &str) -> BTreeSet<String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let dir = Directory::new(
            ad().config(vec![dc_ldaps()], ad().ldaps()),
            std::sync::Arc::new(NoopObserver),
        )
        .unwrap();
        let id = dir
            .fetch(&UserKey::sam_account_name(user).unwrap())
            .await
            .unwrap()
            .expect("the user exists");
        id.groups.iter().map(|g| g.sid.to_string()).collect()
    })
}

fn assert_same_groups(user: &str, expected_count: usize) {
    let mut pac = pac_groups(user);
    let mut ldap = token_groups(user);
    assert!(
        pac.remove(ASSERTED_IDENTITY),
        "{user}: PAC without S-1-18-1"
    );
    assert!(
        ldap.remove(BUILTIN_USERS),
        "{user}: tokenGroups without BUILTIN\\Users"
    );
    assert_eq!(
        pac.symmetric_difference(&ldap).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "{user}: PAC and tokenGroups differ"
    );
    assert_eq!(pac.len(), expected_count, "{user}: {pac:?}");
}

/// alice: Domain Users, Engineering, VPN Users, and Staff through Engineering (nested).
#[test]
fn the_nested_group_user_has_the_same_groups_in_pac_and_ldap() {
    assert_same_groups("alice", 4);
}

/// carol: Domain Users and 300 groups.
#[test]
fn the_300_group_user_has_the_same_groups_in_pac_and_ldap() {
    assert_same_groups("carol", 301);
}

//! Minting complete client tokens from the service key, without a KDC.
//!
//! Whoever holds a service key can already forge tickets for that one service (that is what
//! the key is for), so this grants nothing new; it exists for load tests, which need millions
//! of unique tokens faster than a KDC issues them, and for tests that must control every field.
//! Only compiled with the `mint` feature (the bench) or in tests.

use crate::proto::acceptor::Randomness;
use crate::proto::crypto::{Enctype, Key, KeyUsage, MAX_CONFOUNDER_LEN, MAX_KEY_LEN};
use crate::proto::gss::{flags, CKSUMTYPE_GSSAPI};
use crate::proto::krb::build::{
    build_ap_req, build_authenticator, build_enc_ticket_part, build_ticket, AuthenticatorSpec,
    EncTicketPartSpec, Name,
};
use crate::proto::krb::messages::ap_options;
use crate::proto::principal::Principal;
use crate::proto::spnego::{self, build_krb5_token, build_neg_token_init, KrbOid, TOK_ID_AP_REQ};

/// Everything a minted token says.
#[derive(Debug, Clone)]
pub struct TokenSpec {
    /// The client.
    pub client: Principal,
    /// The session key's enctype.
    pub session_enctype: Enctype,
    /// Ticket flags.
    pub ticket_flags: u32,
    /// `authtime`.
    pub authtime: i64,
    /// `starttime`.
    pub starttime: Option<i64>,
    /// `endtime`.
    pub endtime: i64,
    /// Encoded AuthorizationData for the ticket (a PAC, say).
    pub authorization_data: Option<Vec<u8>>,
    /// Authenticator `ctime`.
    pub ctime: i64,
    /// Authenticator `cusec`.
    pub cusec: u32,
    /// AP-REQ options.
    pub ap_options: u32,
    /// GSS flags in the checksum.
    pub gss_flags: u32,
    /// The checksum's `Bnd` field.
    pub channel_binding: [u8; 16],
    /// Whether the authenticator carries a subkey.
    pub subkey: bool,
    /// A different client name for the authenticator (tests of the name check).
    pub authenticator_client: Option<Principal>,
    /// The checksum to put in the authenticator; `None` means the standard 0x8003 one.
    pub checksum_override: Option<Option<(i32, Vec<u8>)>>,
    /// The authenticator subkey as (keytype, key octets), instead of a random key of the
    /// session enctype (tests of the subkey check).
    pub subkey_override: Option<(i32, Vec<u8>)>,
}

impl TokenSpec {
    /// A ticket and authenticator valid at `now` for ten hours, as AD issues them.
    pub fn new(client: Principal, session_enctype: Enctype, now: i64) -> Self {
        Self {
            client,
            session_enctype,
            ticket_flags: 0x4081_0000,
            authtime: now,
            starttime: Some(now),
            endtime: now + 36_000,
            authorization_data: None,
            ctime: now,
            cusec: 0,
            ap_options: ap_options::MUTUAL_REQUIRED,
            gss_flags: flags::MUTUAL | flags::REPLAY | flags::SEQUENCE | flags::CONF | flags::INTEG,
            channel_binding: [0; 16],
            subkey: true,
            authenticator_client: None,
            checksum_override: None,
            subkey_override: None,
        }
    }
}

/// The output of [`mint_ap_req`]: the AP-REQ and the session key a client would keep.
#[derive(Debug)]
pub struct Minted {
    /// The DER AP-REQ.
    pub ap_req: Vec<u8>,
    /// The session key.
    pub session_key: Key,
}

fn name_of(p: &Principal) -> Vec<&str> {
    p.components().iter().map(String::as_str).collect()
}

/// Builds an AP-REQ for `service`, encrypting the ticket with `service_key` under `kvno`.
pub fn mint_ap_req(
    service: &Principal,
    service_key: &Key,
    kvno: Option<u32>,
    spec: &TokenSpec,
    rng: &mut dyn Randomness,
) -> Minted {
    let mut key_bytes = [0u8; MAX_KEY_LEN];
    rng.fill(&mut key_bytes);
    let session_key = Key::random(spec.session_enctype, &key_bytes);
    let cname = name_of(&spec.client);
    let part = build_enc_ticket_part(&EncTicketPartSpec {
        flags: spec.ticket_flags,
        session_key: (spec.session_enctype.etype(), session_key.as_bytes()),
        crealm: spec.client.realm(),
        cname: Name {
            name_type: spec.client.name_type(),
            components: &cname,
        },
        authtime: spec.authtime,
        starttime: spec.starttime,
        endtime: spec.endtime,
        renew_till: None,
        authorization_data: spec.authorization_data.as_deref(),
    });
    let mut confounder = [0u8; MAX_CONFOUNDER_LEN];
    rng.fill(&mut confounder);
    let ticket_cipher = match service_key.usage_key(KeyUsage::KDC_REP_TICKET) {
        Ok(k) => k.encrypt(&part, &confounder),
        Err(_) => Vec::new(),
    };
    let sname = name_of(service);
    let ticket = build_ticket(
        service.realm(),
        Name {
            name_type: crate::proto::principal::NT_SRV_INST,
            components: &sname,
        },
        service_key.enctype().etype(),
        kvno,
        &ticket_cipher,
    );

    let mut cksum = Vec::with_capacity(24);
    cksum.extend_from_slice(&16u32.to_le_bytes());
    cksum.extend_from_slice(&spec.channel_binding);
    cksum.extend_from_slice(&spec.gss_flags.to_le_bytes());
    let cksum = match &spec.checksum_override {
        Some(over) => over.clone(),
        None => Some((CKSUMTYPE_GSSAPI, cksum)),
    };
    let auth_client = spec.authenticator_client.as_ref().unwrap_or(&spec.client);
    let auth_name = name_of(auth_client);
    let mut subkey = [0u8; MAX_KEY_LEN];
    rng.fill(&mut subkey);
    let subkey = Key::random(spec.session_enctype, &subkey);
    let mut seq = [0u8; 4];
    rng.fill(&mut seq);
    let authenticator = build_authenticator(&AuthenticatorSpec {
        crealm: auth_client.realm(),
        cname: Name {
            name_type: auth_client.name_type(),
            components: &auth_name,
        },
        cksum: cksum.as_ref().map(|(t, v)| (*t, v.as_slice())),
        cusec: spec.cusec,
        ctime: spec.ctime,
        subkey: match &spec.subkey_override {
            Some((keytype, value)) => Some((*keytype, value.as_slice())),
            None => spec
                .subkey
                .then(|| (subkey.enctype().etype(), subkey.as_bytes())),
        },
        seq_number: Some(u32::from_be_bytes(seq) & 0x3fff_ffff),
    });
    rng.fill(&mut confounder);
    let auth_cipher = match session_key.usage_key(KeyUsage::AP_REQ_AUTHENTICATOR) {
        Ok(k) => k.encrypt(&authenticator, &confounder),
        Err(_) => Vec::new(),
    };
    let ap_req = build_ap_req(
        spec.ap_options,
        &ticket,
        spec.session_enctype.etype(),
        &auth_cipher,
    );
    Minted {
        ap_req,
        session_key,
    }
}

/// Frames an AP-REQ as a browser would: SPNEGO with `first` as the preferred mechanism, then
/// the other Kerberos OID and NTLM.
pub fn spnego_token(ap_req: &[u8], first: KrbOid) -> Vec<u8> {
    let second = match first {
        KrbOid::Microsoft => spnego::oid::KRB5,
        KrbOid::Standard => spnego::oid::MS_KRB5,
    };
    build_neg_token_init(&[first.contents(), second, spnego::oid::NTLMSSP], ap_req)
}

/// Frames an AP-REQ as a raw RFC 4121 token.
pub fn raw_token(ap_req: &[u8]) -> Vec<u8> {
    build_krb5_token(TOK_ID_AP_REQ, ap_req)
}

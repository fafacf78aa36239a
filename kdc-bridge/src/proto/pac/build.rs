//! Building and signing PACs, for tests and the bench's offline token minting (feature
//! `mint`; see `proto::mint`). The acceptor never builds a PAC.
//!
//! ```ignore
//! let server = service_key.usage_key(KeyUsage::PAC_CHECKSUM)?;
//! let pac = PacSpec::new("alice", "CORP.TEST", authtime, 300).build(&server, &server)?;
//! token_spec.authorization_data = Some(build_authorization_data(&pac));
//! ```

use std::ops::Range;

use crate::proto::crypto::UsageKey;
use crate::proto::krb::build;

use super::error::PacError;
use super::logon_info::{group_attributes, user_flags, FileTime, GroupMembership, LogonInfo};
use super::sid::Sid;
use super::signature::SIGNATURE_TYPE_LEN;
use super::text::UnicodeString;
use super::{
    ad_type, buffer_type, read_buffers, ClientInfo, SidAndAttributes, UpnDnsInfo, PACTYPE_LEN,
    PAC_INFO_BUFFER_LEN,
};

/// Lays `buffers` (type and contents) out as a `PACTYPE`: the header, then each buffer at
/// the next multiple of 8 in the given order, zero-padded, as AD, Samba and MIT do.
pub fn build_pac(buffers: &[(u32, &[u8])]) -> Vec<u8> {
    let pad8 = |n: usize| n.next_multiple_of(8);
    let header_len = PACTYPE_LEN + buffers.len() * PAC_INFO_BUFFER_LEN;
    let total = buffers
        .iter()
        .fold(pad8(header_len), |acc, (_, data)| acc + pad8(data.len()));
    let mut out = Vec::with_capacity(total);
    // Test data: counts and sizes far below 4 GiB.
    out.extend_from_slice(&(buffers.len() as u32).to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    let mut offset = pad8(header_len);
    for (ul_type, data) in buffers {
        out.extend_from_slice(&ul_type.to_le_bytes());
        out.extend_from_slice(&(data.len() as u32).to_le_bytes());
        out.extend_from_slice(&(offset as u64).to_le_bytes());
        offset += pad8(data.len());
    }
    out.resize(pad8(header_len), 0);
    for (_, data) in buffers {
        out.extend_from_slice(data);
        out.resize(pad8(out.len()), 0);
    }
    out
}

/// A signature buffer to be filled in by [`sign_pac`]: the key's checksum type and zeros.
pub fn signature_placeholder(key: &UsageKey) -> Vec<u8> {
    let enctype = key.enctype();
    let mut out = enctype.checksum_type().to_le_bytes().to_vec();
    out.resize(SIGNATURE_TYPE_LEN + enctype.checksum_len(), 0);
    out
}

/// Signs a PAC in place as a KDC does ([MS-PAC §2.8]): the server signature with
/// `server_key` over the PAC with both signatures zeroed, then the KDC signature with
/// `kdc_key` over the server signature. Both keys must be derived for key usage 17; the KDC
/// key may be the server key when no real `krbtgt` key is at hand (nothing here checks it).
///
/// # Errors
///
/// What [`super::Pac::extract`] reports on the layout, [`PacError::MissingBuffer`] without
/// buffers 6 and 7, [`PacError::Malformed`] if their sizes do not fit the keys' checksums.
///
/// [MS-PAC §2.8]: https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-pac/6e95edd3-af93-41d4-8303-6c7955297315
pub fn sign_pac(pac: &mut [u8], server_key: &UsageKey, kdc_key: &UsageKey) -> Result<(), PacError> {
    let server = signature_field(pac, buffer_type::SERVER_CHECKSUM, server_key)?;
    let kdc = signature_field(pac, buffer_type::KDC_CHECKSUM, kdc_key)?;
    for (field, key) in [(&server, server_key), (&kdc, kdc_key)] {
        let ty = key.enctype().checksum_type().to_le_bytes();
        let start = field.start - SIGNATURE_TYPE_LEN;
        if let Some(buffer) = pac.get_mut(start..field.end) {
            let (t, sig) = buffer.split_at_mut(SIGNATURE_TYPE_LEN);
            t.copy_from_slice(&ty);
            sig.fill(0);
        }
    }
    let server_sig = server_key.checksum(pac);
    let kdc_sig = kdc_key.checksum(&server_sig);
    for (field, sig) in [(server, server_sig), (kdc, kdc_sig)] {
        if let Some(dst) = pac.get_mut(field) {
            dst.copy_from_slice(&sig);
        }
    }
    Ok(())
}

/// The octets after `SignatureType` in the buffer of `ul_type`, which must be as long as
/// `key`'s checksum.
fn signature_field(pac: &[u8], ul_type: u32, key: &UsageKey) -> Result<Range<usize>, PacError> {
    let buffers = read_buffers(pac)?;
    let b = buffers
        .iter()
        .find(|b| b.ul_type == ul_type)
        .ok_or(PacError::MissingBuffer { ul_type })?;
    if b.data.len() != SIGNATURE_TYPE_LEN + key.enctype().checksum_len() {
        return Err(PacError::Malformed {
            what: "PAC_SIGNATURE_DATA: size does not fit the key's checksum",
        });
    }
    Ok(b.offset + SIGNATURE_TYPE_LEN..b.offset + b.data.len())
}

/// The `AuthorizationData` of a ticket carrying `pac`: one `AD-IF-RELEVANT` around one
/// `AD-WIN2K-PAC`, as AD issues it (for `proto::mint::TokenSpec::authorization_data`).
pub fn build_authorization_data(pac: &[u8]) -> Vec<u8> {
    let inner = build::build_authorization_data(&[(ad_type::WIN2K_PAC, pac)]);
    build::build_authorization_data(&[(ad_type::IF_RELEVANT, &inner)])
}

/// The identity a built PAC asserts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PacSpec {
    /// `EffectiveName`, and the default client name.
    pub account_name: String,
    /// `FullName`.
    pub full_name: String,
    /// `LogonDomainName` (NetBIOS).
    pub logon_domain_name: String,
    /// `UPN_DNS_INFO.DnsDomainName`.
    pub dns_domain_name: String,
    /// `UPN_DNS_INFO.Upn`.
    pub upn: String,
    /// `PAC_CLIENT_INFO.Name`: the ticket's client name without realm.
    pub client_name: String,
    /// The ticket's authtime: `PAC_CLIENT_INFO.ClientId` and `LogonTime`.
    pub authtime: i64,
    /// `LogonDomainId`.
    pub domain_sid: Sid,
    /// `UserId`.
    pub user_rid: u32,
    /// `PrimaryGroupId`.
    pub primary_group_rid: u32,
    /// `GroupIds`, attributes 7 (mandatory, enabled by default, enabled).
    pub group_rids: Vec<u32>,
    /// `ExtraSids`, attributes 7.
    pub extra_sids: Vec<Sid>,
    /// `ResourceGroupDomainSid` and `ResourceGroupIds`, attributes 0x20000007.
    pub resource_groups: Option<(Sid, Vec<u32>)>,
}

/// `SE_GROUP_MANDATORY | SE_GROUP_ENABLED_BY_DEFAULT | SE_GROUP_ENABLED`.
const GROUP_ATTRIBUTES: u32 =
    group_attributes::MANDATORY | group_attributes::ENABLED_BY_DEFAULT | group_attributes::ENABLED;
/// Domain Users.
const DOMAIN_USERS: u32 = 513;
/// `S-1-18-1`, "authentication authority asserted identity", which AD adds to every PAC.
const ASSERTED_IDENTITY: Sid = Sid::from_array(18, [1]);
/// The domain SID of built PACs unless the caller sets another.
pub const TEST_DOMAIN_SID: Sid =
    Sid::from_array(5, [21, 1_004_336_348, 1_177_238_915, 682_003_330]);

impl PacSpec {
    /// A user as AD would describe them: `account` in realm `realm` (NetBIOS name: its first
    /// label), domain [`TEST_DOMAIN_SID`], RID 1102, primary group Domain Users, and `groups` further groups with RIDs
    /// 1200, 1201, … after Domain Users in `GroupIds`, plus `S-1-18-1` in `ExtraSids`.
    pub fn new(account: &str, realm: &str, authtime: i64, groups: usize) -> Self {
        let netbios = realm.split('.').next().unwrap_or(realm).to_uppercase();
        let mut group_rids = Vec::with_capacity(groups + 1);
        group_rids.push(DOMAIN_USERS);
        // Test data: group counts far below 2^32.
        group_rids.extend((0..groups).map(|i| 1200 + i as u32));
        Self {
            account_name: account.to_owned(),
            full_name: String::new(),
            logon_domain_name: netbios,
            dns_domain_name: realm.to_uppercase(),
            upn: format!("{account}@{}", realm.to_lowercase()),
            client_name: account.to_owned(),
            authtime,
            domain_sid: TEST_DOMAIN_SID,
            user_rid: 1102,
            primary_group_rid: DOMAIN_USERS,
            group_rids,
            extra_sids: vec![ASSERTED_IDENTITY],
            resource_groups: None,
        }
    }

    /// The logon information buffer's structure.
    pub fn logon_info(&self) -> LogonInfo {
        let logon_time = FileTime::from_unix(self.authtime).unwrap_or_default();
        let groups = |rids: &[u32], attributes| {
            rids.iter()
                .map(|&rid| GroupMembership { rid, attributes })
                .collect()
        };
        let mut flags = 0;
        if !self.extra_sids.is_empty() {
            flags |= user_flags::EXTRA_SIDS;
        }
        if self.resource_groups.is_some() {
            flags |= user_flags::RESOURCE_GROUPS;
        }
        LogonInfo {
            logon_time,
            logoff_time: FileTime::NEVER,
            kick_off_time: FileTime::NEVER,
            password_last_set: logon_time,
            password_can_change: logon_time,
            password_must_change: FileTime::NEVER,
            effective_name: UnicodeString::new(&self.account_name),
            full_name: UnicodeString::new(&self.full_name),
            logon_script: UnicodeString::new(""),
            profile_path: UnicodeString::new(""),
            home_directory: UnicodeString::new(""),
            home_directory_drive: UnicodeString::new(""),
            logon_count: 0,
            bad_password_count: 0,
            user_id: self.user_rid,
            primary_group_id: self.primary_group_rid,
            group_ids: groups(&self.group_rids, GROUP_ATTRIBUTES),
            user_flags: flags,
            user_session_key: [0; 16],
            logon_server: UnicodeString::new("DC1"),
            logon_domain_name: UnicodeString::new(&self.logon_domain_name),
            logon_domain_id: self.domain_sid,
            reserved1: [0; 2],
            user_account_control: 0x10,
            sub_auth_status: 0,
            last_successful_i_logon: FileTime(0),
            last_failed_i_logon: FileTime(0),
            failed_i_logon_count: 0,
            reserved3: 0,
            extra_sids: self
                .extra_sids
                .iter()
                .map(|&sid| SidAndAttributes {
                    sid,
                    attributes: GROUP_ATTRIBUTES,
                })
                .collect(),
            resource_group_domain_sid: self.resource_groups.as_ref().map(|(sid, _)| *sid),
            resource_group_ids: self
                .resource_groups
                .as_ref()
                .map_or_else(Vec::new, |(_, rids)| {
                    groups(rids, GROUP_ATTRIBUTES | group_attributes::RESOURCE)
                }),
        }
    }

    /// The client information buffer's structure.
    pub fn client_info(&self) -> ClientInfo {
        ClientInfo {
            client_id: FileTime::from_unix(self.authtime).unwrap_or_default(),
            name: self.client_name.clone(),
        }
    }

    /// The UPN and DNS information buffer's structure (with the S extension: the SAM name
    /// and the user SID).
    pub fn upn_dns_info(&self) -> UpnDnsInfo {
        UpnDnsInfo {
            upn: self.upn.clone(),
            dns_domain_name: self.dns_domain_name.clone(),
            flags: super::upn_flags::SAM_NAME_AND_SID,
            sam_name_and_sid: self
                .domain_sid
                .with_rid(self.user_rid)
                .map(|sid| (self.account_name.clone(), sid)),
        }
    }

    /// The signed PAC: logon information, client information, UPN and DNS information, then
    /// the server and KDC signatures (see [`sign_pac`]).
    ///
    /// # Errors
    ///
    /// Only if the keys are not derived for the same usage as each other's buffers, which
    /// [`signature_placeholder`] rules out: [`sign_pac`]'s errors.
    pub fn build(&self, server_key: &UsageKey, kdc_key: &UsageKey) -> Result<Vec<u8>, PacError> {
        let logon = self.logon_info().build();
        let client = self.client_info().build();
        let upn = self.upn_dns_info().build();
        let server = signature_placeholder(server_key);
        let kdc = signature_placeholder(kdc_key);
        let mut pac = build_pac(&[
            (buffer_type::LOGON_INFO, &logon),
            (buffer_type::CLIENT_INFO, &client),
            (buffer_type::UPN_DNS_INFO, &upn),
            (buffer_type::SERVER_CHECKSUM, &server),
            (buffer_type::KDC_CHECKSUM, &kdc),
        ]);
        sign_pac(&mut pac, server_key, kdc_key)?;
        Ok(pac)
    }
}

#[cfg(test)]
#[path = "build_test.rs"]
mod tests;

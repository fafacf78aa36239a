//! `KERB_VALIDATION_INFO`, the logon information buffer (type 1), [MS-PAC §2.5].
//!
//! [MS-PAC §2.5]: https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-pac/69e86ccc-85e3-41b9-b514-7d969cd0ed73

use super::error::PacError;
use super::ndr::{split_type_serialization, NdrReader};
use super::sid::{read_rpc_sid, Sid};
use super::text::{UnicodeString, UnicodeStringHeader};

/// `UserFlags` bits ([MS-PAC §2.5]), numbered from the least significant bit.
///
/// [MS-PAC §2.5]: https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-pac/69e86ccc-85e3-41b9-b514-7d969cd0ed73
pub mod user_flags {
    /// D (`LOGON_EXTRA_SIDS`): `ExtraSids` is populated.
    pub const EXTRA_SIDS: u32 = 0x0000_0020;
    /// H (`LOGON_RESOURCE_GROUPS`): `ResourceGroupIds` is populated.
    pub const RESOURCE_GROUPS: u32 = 0x0000_0200;
}

/// `SE_GROUP_*` attributes of a group membership ([MS-PAC §2.2.1]).
///
/// [MS-PAC §2.2.1]: https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-pac/40526ad4-1f32-4d3b-8dd2-6b01c4c3fd0c
pub mod group_attributes {
    /// `SE_GROUP_MANDATORY`.
    pub const MANDATORY: u32 = 0x0000_0001;
    /// `SE_GROUP_ENABLED_BY_DEFAULT`.
    pub const ENABLED_BY_DEFAULT: u32 = 0x0000_0002;
    /// `SE_GROUP_ENABLED`.
    pub const ENABLED: u32 = 0x0000_0004;
    /// `SE_GROUP_RESOURCE`: a domain-local group of the resource domain.
    pub const RESOURCE: u32 = 0x2000_0000;
}

/// A `FILETIME` ([MS-DTYP §2.3.3]): 100-nanosecond intervals since 1601-01-01 UTC.
///
/// [MS-DTYP §2.3.3]: https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-dtyp/2c57429b-fdd4-488f-b5fc-9e4cf020fcdf
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct FileTime(pub u64);

impl FileTime {
    /// "Never" ([MS-PAC §2.5]: `0x7FFFFFFFFFFFFFFF`), as in `LogoffTime` and `KickOffTime`.
    ///
    /// [MS-PAC §2.5]: https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-pac/69e86ccc-85e3-41b9-b514-7d969cd0ed73
    pub const NEVER: Self = Self(0x7fff_ffff_ffff_ffff);
    /// Seconds from 1601-01-01 to 1970-01-01.
    const UNIX_EPOCH_SECS: i64 = 11_644_473_600;
    /// Intervals per second.
    const PER_SEC: u64 = 10_000_000;

    /// The time in Unix seconds, truncated to the second (as MIT's
    /// `k5_time_to_seconds_since_1970` does).
    pub fn to_unix(self) -> i64 {
        // u64::MAX / 10^7 < 2^41, so the quotient fits an i64.
        (self.0 / Self::PER_SEC) as i64 - Self::UNIX_EPOCH_SECS
    }

    /// The `FILETIME` of a Unix time, or `None` before 1601 or past the 64-bit range.
    pub fn from_unix(secs: i64) -> Option<Self> {
        let since_1601 = u64::try_from(secs.checked_add(Self::UNIX_EPOCH_SECS)?).ok()?;
        since_1601.checked_mul(Self::PER_SEC).map(Self)
    }
}

/// A `GROUP_MEMBERSHIP` ([MS-PAC §2.2.2]): a RID in the logon (or resource) domain.
///
/// [MS-PAC §2.2.2]: https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-pac/40526ad4-1f32-4d3b-8dd2-6b01c4c3fd0c
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupMembership {
    /// `RelativeId`.
    pub rid: u32,
    /// `Attributes`, see [`group_attributes`].
    pub attributes: u32,
}

/// A `KERB_SID_AND_ATTRIBUTES` ([MS-PAC §2.2.1]): a whole SID, from another domain or a
/// well-known one such as `S-1-18-1`.
///
/// [MS-PAC §2.2.1]: https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-pac/311aab27-ebdf-47f7-b939-13dc99b15341
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SidAndAttributes {
    /// `Sid`.
    pub sid: Sid,
    /// `Attributes`, see [`group_attributes`].
    pub attributes: u32,
}

/// The logon information, `KERB_VALIDATION_INFO` ([MS-PAC §2.5]), NDR-encoded behind a type
/// serialization header in buffer type 1.
///
/// ```text
/// typedef struct _KERB_VALIDATION_INFO {
///     FILETIME LogonTime;              FILETIME LogoffTime;
///     FILETIME KickOffTime;            FILETIME PasswordLastSet;
///     FILETIME PasswordCanChange;      FILETIME PasswordMustChange;
///     RPC_UNICODE_STRING EffectiveName;     RPC_UNICODE_STRING FullName;
///     RPC_UNICODE_STRING LogonScript;       RPC_UNICODE_STRING ProfilePath;
///     RPC_UNICODE_STRING HomeDirectory;     RPC_UNICODE_STRING HomeDirectoryDrive;
///     USHORT LogonCount;               USHORT BadPasswordCount;
///     ULONG UserId;                    ULONG PrimaryGroupId;
///     ULONG GroupCount;
///     [size_is(GroupCount)] PGROUP_MEMBERSHIP GroupIds;
///     ULONG UserFlags;
///     USER_SESSION_KEY UserSessionKey;                  // 16 octets, zero in Kerberos
///     RPC_UNICODE_STRING LogonServer;  RPC_UNICODE_STRING LogonDomainName;
///     PISID LogonDomainId;
///     ULONG Reserved1[2];
///     ULONG UserAccountControl;        ULONG SubAuthStatus;
///     FILETIME LastSuccessfulILogon;   FILETIME LastFailedILogon;
///     ULONG FailedILogonCount;         ULONG Reserved3;
///     ULONG SidCount;
///     [size_is(SidCount)] PKERB_SID_AND_ATTRIBUTES ExtraSids;
///     PISID ResourceGroupDomainSid;
///     ULONG ResourceGroupCount;
///     [size_is(ResourceGroupCount)] PGROUP_MEMBERSHIP ResourceGroupIds;
/// } KERB_VALIDATION_INFO;
/// ```
///
/// The buffer holds a unique pointer to it (`PAC_LOGON_INFO`), then the fixed part above, then
/// the referents of its pointers in that order; the SIDs of `ExtraSids` follow that array.
///
/// `UserSessionKey` and the `Reserved` fields are kept only so that the encoder gives back the
/// exact octets.
///
/// [MS-PAC §2.5]: https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-pac/69e86ccc-85e3-41b9-b514-7d969cd0ed73
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)] // The fields are the MS-PAC ones, in order; the spec documents them.
pub struct LogonInfo {
    pub logon_time: FileTime,
    pub logoff_time: FileTime,
    pub kick_off_time: FileTime,
    pub password_last_set: FileTime,
    pub password_can_change: FileTime,
    pub password_must_change: FileTime,
    /// The account name (`sAMAccountName`).
    pub effective_name: UnicodeString,
    pub full_name: UnicodeString,
    pub logon_script: UnicodeString,
    pub profile_path: UnicodeString,
    pub home_directory: UnicodeString,
    pub home_directory_drive: UnicodeString,
    pub logon_count: u16,
    pub bad_password_count: u16,
    /// The account's RID in `logon_domain_id`; 0 means the account SID is the first of
    /// `extra_sids`.
    pub user_id: u32,
    pub primary_group_id: u32,
    /// `GroupIds` (its length is `GroupCount`): RIDs in `logon_domain_id`.
    pub group_ids: Vec<GroupMembership>,
    /// See [`user_flags`].
    pub user_flags: u32,
    pub user_session_key: [u8; 16],
    pub logon_server: UnicodeString,
    /// The NetBIOS domain name, e.g. `CORP`.
    pub logon_domain_name: UnicodeString,
    /// The SID of the account's domain. Required here, though the IDL allows NULL: no user or
    /// group SID can be made without it.
    pub logon_domain_id: Sid,
    pub reserved1: [u32; 2],
    pub user_account_control: u32,
    pub sub_auth_status: u32,
    pub last_successful_i_logon: FileTime,
    pub last_failed_i_logon: FileTime,
    pub failed_i_logon_count: u32,
    pub reserved3: u32,
    /// `ExtraSids` (its length is `SidCount`).
    pub extra_sids: Vec<SidAndAttributes>,
    pub resource_group_domain_sid: Option<Sid>,
    /// `ResourceGroupIds` (its length is `ResourceGroupCount`): RIDs in
    /// `resource_group_domain_sid`.
    pub resource_group_ids: Vec<GroupMembership>,
}

/// The octets of one `GROUP_MEMBERSHIP` or `KERB_SID_AND_ATTRIBUTES` in NDR.
const PAIR_LEN: usize = 8;
/// The shortest NDR `RPC_SID`: the conformance count and an 8-octet SID without
/// sub-authorities.
const MIN_RPC_SID_LEN: usize = 12;

impl LogonInfo {
    /// Parses a logon information buffer (type serialization header included).
    ///
    /// # Errors
    ///
    /// [`PacError::Truncated`], [`PacError::CountTooLarge`] (checked before allocating) or
    /// [`PacError::Malformed`], naming the field.
    pub fn extract(buf: &[u8]) -> Result<Self, PacError> {
        let data = split_type_serialization(buf)?;
        let mut r = NdrReader::new(data);
        if !r.pointer("PAC_LOGON_INFO")? {
            return Err(PacError::Malformed {
                what: "PAC_LOGON_INFO: NULL KERB_VALIDATION_INFO",
            });
        }
        let info = read_validation_info(&mut r)?;
        // The object length is padded to 8; anything more is not ours.
        if r.remaining() >= 8 {
            return Err(PacError::Malformed {
                what: "KERB_VALIDATION_INFO: bytes after the structure",
            });
        }
        Ok(info)
    }
}

/// Reads `[size_is(count)] GROUP_MEMBERSHIP*` referents.
fn read_groups(
    r: &mut NdrReader<'_>,
    count: u32,
    what: &'static str,
) -> Result<Vec<GroupMembership>, PacError> {
    let n = r.conformance(count, PAIR_LEN, what)?;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let rid = r.u32(what)?;
        let attributes = r.u32(what)?;
        out.push(GroupMembership { rid, attributes });
    }
    Ok(out)
}

/// A group array pointer from the fixed part: NULL with a non-zero count is refused (readers
/// that trust the count would walk a missing array).
fn check_array_pointer(present: bool, count: u32, what: &'static str) -> Result<(), PacError> {
    if !present && count != 0 {
        return Err(PacError::Malformed { what });
    }
    Ok(())
}

fn read_validation_info(r: &mut NdrReader<'_>) -> Result<LogonInfo, PacError> {
    const WHAT: &str = "KERB_VALIDATION_INFO";
    let logon_time = FileTime(r.filetime(WHAT)?);
    let logoff_time = FileTime(r.filetime(WHAT)?);
    let kick_off_time = FileTime(r.filetime(WHAT)?);
    let password_last_set = FileTime(r.filetime(WHAT)?);
    let password_can_change = FileTime(r.filetime(WHAT)?);
    let password_must_change = FileTime(r.filetime(WHAT)?);
    let effective_name = UnicodeStringHeader::read(r, "KERB_VALIDATION_INFO.EffectiveName")?;
    let full_name = UnicodeStringHeader::read(r, "KERB_VALIDATION_INFO.FullName")?;
    let logon_script = UnicodeStringHeader::read(r, "KERB_VALIDATION_INFO.LogonScript")?;
    let profile_path = UnicodeStringHeader::read(r, "KERB_VALIDATION_INFO.ProfilePath")?;
    let home_directory = UnicodeStringHeader::read(r, "KERB_VALIDATION_INFO.HomeDirectory")?;
    let home_directory_drive =
        UnicodeStringHeader::read(r, "KERB_VALIDATION_INFO.HomeDirectoryDrive")?;
    let logon_count = r.u16(WHAT)?;
    let bad_password_count = r.u16(WHAT)?;
    let user_id = r.u32(WHAT)?;
    let primary_group_id = r.u32(WHAT)?;
    let group_count = r.u32(WHAT)?;
    let group_ids_present = r.pointer(WHAT)?;
    check_array_pointer(
        group_ids_present,
        group_count,
        "KERB_VALIDATION_INFO.GroupIds: NULL with a GroupCount",
    )?;
    let user_flags = r.u32(WHAT)?;
    let user_session_key = r.array::<16>(WHAT)?;
    let logon_server = UnicodeStringHeader::read(r, "KERB_VALIDATION_INFO.LogonServer")?;
    let logon_domain_name = UnicodeStringHeader::read(r, "KERB_VALIDATION_INFO.LogonDomainName")?;
    if !r.pointer(WHAT)? {
        return Err(PacError::Malformed {
            what: "KERB_VALIDATION_INFO.LogonDomainId: NULL",
        });
    }
    let reserved1 = [r.u32(WHAT)?, r.u32(WHAT)?];
    let user_account_control = r.u32(WHAT)?;
    let sub_auth_status = r.u32(WHAT)?;
    let last_successful_i_logon = FileTime(r.filetime(WHAT)?);
    let last_failed_i_logon = FileTime(r.filetime(WHAT)?);
    let failed_i_logon_count = r.u32(WHAT)?;
    let reserved3 = r.u32(WHAT)?;
    let sid_count = r.u32(WHAT)?;
    let extra_sids_present = r.pointer(WHAT)?;
    check_array_pointer(
        extra_sids_present,
        sid_count,
        "KERB_VALIDATION_INFO.ExtraSids: NULL with a SidCount",
    )?;
    let resource_domain_present = r.pointer(WHAT)?;
    let resource_group_count = r.u32(WHAT)?;
    let resource_groups_present = r.pointer(WHAT)?;
    check_array_pointer(
        resource_groups_present,
        resource_group_count,
        "KERB_VALIDATION_INFO.ResourceGroupIds: NULL with a ResourceGroupCount",
    )?;
    if resource_groups_present && !resource_domain_present {
        return Err(PacError::Malformed {
            what: "KERB_VALIDATION_INFO.ResourceGroupIds without a ResourceGroupDomainSid",
        });
    }

    // The deferred referents, in the order of their pointers.
    let effective_name = effective_name.read_deferred(r, "KERB_VALIDATION_INFO.EffectiveName")?;
    let full_name = full_name.read_deferred(r, "KERB_VALIDATION_INFO.FullName")?;
    let logon_script = logon_script.read_deferred(r, "KERB_VALIDATION_INFO.LogonScript")?;
    let profile_path = profile_path.read_deferred(r, "KERB_VALIDATION_INFO.ProfilePath")?;
    let home_directory = home_directory.read_deferred(r, "KERB_VALIDATION_INFO.HomeDirectory")?;
    let home_directory_drive =
        home_directory_drive.read_deferred(r, "KERB_VALIDATION_INFO.HomeDirectoryDrive")?;
    let group_ids = if group_ids_present {
        read_groups(r, group_count, "KERB_VALIDATION_INFO.GroupIds")?
    } else {
        Vec::new()
    };
    let logon_server = logon_server.read_deferred(r, "KERB_VALIDATION_INFO.LogonServer")?;
    let logon_domain_name =
        logon_domain_name.read_deferred(r, "KERB_VALIDATION_INFO.LogonDomainName")?;
    let logon_domain_id = read_rpc_sid(r)?;
    let extra_sids = if extra_sids_present {
        read_extra_sids(r, sid_count)?
    } else {
        Vec::new()
    };
    let resource_group_domain_sid = if resource_domain_present {
        Some(read_rpc_sid(r)?)
    } else {
        None
    };
    let resource_group_ids = if resource_groups_present {
        read_groups(
            r,
            resource_group_count,
            "KERB_VALIDATION_INFO.ResourceGroupIds",
        )?
    } else {
        Vec::new()
    };
    Ok(LogonInfo {
        logon_time,
        logoff_time,
        kick_off_time,
        password_last_set,
        password_can_change,
        password_must_change,
        effective_name,
        full_name,
        logon_script,
        profile_path,
        home_directory,
        home_directory_drive,
        logon_count,
        bad_password_count,
        user_id,
        primary_group_id,
        group_ids,
        user_flags,
        user_session_key,
        logon_server,
        logon_domain_name,
        logon_domain_id,
        reserved1,
        user_account_control,
        sub_auth_status,
        last_successful_i_logon,
        last_failed_i_logon,
        failed_i_logon_count,
        reserved3,
        extra_sids,
        resource_group_domain_sid,
        resource_group_ids,
    })
}

/// Reads the `ExtraSids` array (`SidCount` pointer and attribute pairs), then the SIDs its
/// pointers refer to. Every entry must have a SID.
fn read_extra_sids(r: &mut NdrReader<'_>, count: u32) -> Result<Vec<SidAndAttributes>, PacError> {
    const WHAT: &str = "KERB_VALIDATION_INFO.ExtraSids";
    // Each entry costs its pair plus at least the shortest SID: bound by both before
    // allocating.
    r.fits(count, PAIR_LEN + MIN_RPC_SID_LEN, WHAT)?;
    let n = r.conformance(count, PAIR_LEN, WHAT)?;
    let mut attributes = Vec::with_capacity(n);
    for _ in 0..n {
        if !r.pointer(WHAT)? {
            return Err(PacError::Malformed {
                what: "KERB_VALIDATION_INFO.ExtraSids: NULL Sid",
            });
        }
        attributes.push(r.u32(WHAT)?);
    }
    let mut out = Vec::with_capacity(n);
    for attributes in attributes {
        out.push(SidAndAttributes {
            sid: read_rpc_sid(r)?,
            attributes,
        });
    }
    Ok(out)
}

#[cfg(any(test, feature = "mint"))]
mod write {
    use super::super::ndr::NdrWriter;
    use super::super::sid::Sid;
    use super::{GroupMembership, LogonInfo};

    /// Writes a count as NDR does: the lengths here come from `Vec`s the caller built, far
    /// below 2^32.
    fn count(len: usize) -> u32 {
        u32::try_from(len).unwrap_or(u32::MAX)
    }

    fn write_sid(w: &mut NdrWriter, sid: &Sid) {
        w.u32(count(sid.sub_authorities().len()));
        let bytes = sid.to_bytes();
        for b in bytes {
            w.u8(b);
        }
    }

    fn write_groups(w: &mut NdrWriter, groups: &[GroupMembership]) {
        w.u32(count(groups.len()));
        for g in groups {
            w.u32(g.rid);
            w.u32(g.attributes);
        }
    }

    impl LogonInfo {
        /// Encodes the buffer as AD and Samba do: referent IDs 0x00020000, 0x00020004, … in
        /// marshalling order, zero padding, the type serialization header around it. The
        /// `GroupIds`, `ExtraSids` and `ResourceGroupIds` pointers are NULL exactly when
        /// their lists are empty, and `ResourceGroupDomainSid` when it is `None`; the count
        /// fields are the lists' lengths.
        pub fn build(&self) -> Vec<u8> {
            let mut w = NdrWriter::new();
            w.pointer(true);
            for t in [
                self.logon_time,
                self.logoff_time,
                self.kick_off_time,
                self.password_last_set,
                self.password_can_change,
                self.password_must_change,
            ] {
                w.filetime(t.0);
            }
            let strings = [
                &self.effective_name,
                &self.full_name,
                &self.logon_script,
                &self.profile_path,
                &self.home_directory,
                &self.home_directory_drive,
            ];
            for s in strings {
                s.write_header(&mut w);
            }
            w.u16(self.logon_count);
            w.u16(self.bad_password_count);
            w.u32(self.user_id);
            w.u32(self.primary_group_id);
            w.u32(count(self.group_ids.len()));
            w.pointer(!self.group_ids.is_empty());
            w.u32(self.user_flags);
            for b in self.user_session_key {
                w.u8(b);
            }
            self.logon_server.write_header(&mut w);
            self.logon_domain_name.write_header(&mut w);
            w.pointer(true);
            let [reserved1_0, reserved1_1] = self.reserved1;
            w.u32(reserved1_0);
            w.u32(reserved1_1);
            w.u32(self.user_account_control);
            w.u32(self.sub_auth_status);
            w.filetime(self.last_successful_i_logon.0);
            w.filetime(self.last_failed_i_logon.0);
            w.u32(self.failed_i_logon_count);
            w.u32(self.reserved3);
            w.u32(count(self.extra_sids.len()));
            w.pointer(!self.extra_sids.is_empty());
            w.pointer(self.resource_group_domain_sid.is_some());
            w.u32(count(self.resource_group_ids.len()));
            w.pointer(!self.resource_group_ids.is_empty());

            for s in strings {
                s.write_deferred(&mut w);
            }
            if !self.group_ids.is_empty() {
                write_groups(&mut w, &self.group_ids);
            }
            self.logon_server.write_deferred(&mut w);
            self.logon_domain_name.write_deferred(&mut w);
            write_sid(&mut w, &self.logon_domain_id);
            if !self.extra_sids.is_empty() {
                w.u32(count(self.extra_sids.len()));
                for e in &self.extra_sids {
                    w.pointer(true);
                    w.u32(e.attributes);
                }
                for e in &self.extra_sids {
                    write_sid(&mut w, &e.sid);
                }
            }
            if let Some(sid) = &self.resource_group_domain_sid {
                write_sid(&mut w, sid);
            }
            if !self.resource_group_ids.is_empty() {
                write_groups(&mut w, &self.resource_group_ids);
            }
            w.into_type_serialization()
        }
    }
}

#[cfg(test)]
#[path = "logon_info_test.rs"]
mod tests;

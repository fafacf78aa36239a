//! [`PacError`]: why a PAC was not found, did not parse, or did not verify.

use crate::proto::error::Fault;

/// Why a PAC was refused. Every variant has a static [`reason`](Self::reason) for logs and
/// metric labels; the acceptor folds these into its own error.
///
/// Structural variants name the structure with the MS-PAC / MS-RPCE field names (`what`), so a
/// log line points at the spec section; they never echo bytes of the PAC.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PacError {
    /// The ticket's `AuthorizationData` (or an `AD-IF-RELEVANT` inside it) is not valid DER.
    #[error("bad AuthorizationData: {what}")]
    BadAuthorizationData {
        /// Which container did not parse.
        what: &'static str,
    },
    /// The ticket has no `AD-WIN2K-PAC` inside an `AD-IF-RELEVANT`.
    #[error("the ticket carries no PAC")]
    NoPac,
    /// The ticket has more than one `AD-WIN2K-PAC`: which one to believe is ambiguous.
    #[error("the ticket carries more than one PAC")]
    MultiplePacs,
    /// The input ends inside a structure.
    #[error("PAC ends inside {what}")]
    Truncated {
        /// The structure (or field) being read.
        what: &'static str,
    },
    /// `PACTYPE.Version` is not 0.
    #[error("PAC version {got}, expected 0")]
    BadVersion {
        /// The version found.
        got: u32,
    },
    /// A count from the wire claims more entries than the bytes that follow can hold. Checked
    /// before anything is allocated from it.
    #[error("{what} claims {count} entries, but only {available} bytes follow")]
    CountTooLarge {
        /// The count field.
        what: &'static str,
        /// The claimed count.
        count: u64,
        /// The bytes left in the enclosing structure.
        available: usize,
    },
    /// A `PAC_INFO_BUFFER` points outside the PAC, or into its header.
    #[error(
        "PAC buffer of type {ul_type} at offset {offset} with {size} bytes lies outside the \
         {pac_len}-byte PAC or in its header"
    )]
    BufferOutOfRange {
        /// `ulType`.
        ul_type: u32,
        /// `Offset`.
        offset: u64,
        /// `cbBufferSize`.
        size: u32,
        /// The length of the whole PAC.
        pac_len: usize,
    },
    /// A `PAC_INFO_BUFFER.Offset` that is not a multiple of 8 (MS-PAC §2.4: "MUST be a
    /// multiple of eight").
    #[error("PAC buffer of type {ul_type} at offset {offset} is not 8-byte aligned")]
    MisalignedBuffer {
        /// `ulType`.
        ul_type: u32,
        /// `Offset`.
        offset: u64,
    },
    /// Two buffers share bytes.
    #[error("PAC buffers of types {first} and {second} overlap")]
    OverlappingBuffers {
        /// The type of the buffer that starts first.
        first: u32,
        /// The type of the buffer that starts inside it.
        second: u32,
    },
    /// Two buffers of a type that must be unique (logon info, client info, UPN and DNS info,
    /// the server and KDC signatures).
    #[error("PAC has two buffers of type {ul_type}")]
    DuplicateBuffer {
        /// `ulType`.
        ul_type: u32,
    },
    /// A buffer the operation needs is absent.
    #[error("PAC has no buffer of type {ul_type}")]
    MissingBuffer {
        /// `ulType`.
        ul_type: u32,
    },
    /// A buffer's contents break its structure's rules (NDR header, pointer, count, string or
    /// SID), or bytes are left over after it.
    #[error("malformed PAC: {what}")]
    Malformed {
        /// What is wrong, with the MS-PAC field name.
        what: &'static str,
    },
    /// The server signature uses a checksum type this crate does not implement (or an
    /// unkeyed one).
    #[error("unsupported PAC server checksum type {cksumtype}")]
    UnsupportedChecksum {
        /// `SignatureType`.
        cksumtype: i32,
    },
    /// The server signature's type is not the checksum of the service key's enctype.
    #[error(
        "PAC server checksum type {got} does not go with the service key (expected {expected})"
    )]
    ChecksumTypeMismatch {
        /// The checksum type of the key's enctype.
        expected: i32,
        /// `SignatureType`.
        got: i32,
    },
    /// The key given to verify the server signature was not derived for key usage 17.
    #[error("PAC checksum key derived for key usage {got}, expected 17")]
    WrongKeyUsage {
        /// The key's usage number.
        got: u32,
    },
    /// The server signature does not match the PAC: it was modified, or not made with this
    /// service key.
    #[error("PAC server checksum does not match")]
    BadServerChecksum,
    /// `PAC_CLIENT_INFO.Name` is not the ticket's client name.
    #[error("PAC client name {pac:?} differs from the ticket client {ticket:?}")]
    ClientNameMismatch {
        /// The name in the PAC.
        pac: String,
        /// The ticket's client name, without realm.
        ticket: String,
    },
    /// `PAC_CLIENT_INFO.ClientId` is not the ticket's authtime.
    #[error("PAC client time {pac} differs from the ticket authtime {ticket}")]
    AuthTimeMismatch {
        /// `ClientId`, in Unix seconds.
        pac: i64,
        /// The ticket's `authtime`.
        ticket: i64,
    },
}

impl PacError {
    /// A short, static label for logs and metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::BadAuthorizationData { .. }
            | Self::MultiplePacs
            | Self::Truncated { .. }
            | Self::BadVersion { .. }
            | Self::CountTooLarge { .. }
            | Self::BufferOutOfRange { .. }
            | Self::MisalignedBuffer { .. }
            | Self::OverlappingBuffers { .. }
            | Self::DuplicateBuffer { .. }
            | Self::Malformed { .. } => "malformed",
            Self::NoPac => "no_pac",
            Self::MissingBuffer { .. } => "missing_buffer",
            Self::UnsupportedChecksum { .. } | Self::ChecksumTypeMismatch { .. } => {
                "unsupported_checksum"
            }
            Self::WrongKeyUsage { .. } => "wrong_key_usage",
            Self::BadServerChecksum => "bad_server_checksum",
            Self::ClientNameMismatch { .. } | Self::AuthTimeMismatch { .. } => "client_mismatch",
        }
    }

    /// Every reason label, for pre-registering metrics.
    pub const REASONS: &'static [&'static str] = &[
        "malformed",
        "no_pac",
        "missing_buffer",
        "unsupported_checksum",
        "wrong_key_usage",
        "bad_server_checksum",
        "client_mismatch",
    ];

    /// Who is at fault: the client for everything read from the ticket (as for the acceptor's
    /// other errors: from here a bad PAC looks like a tampered ticket), except a key derived
    /// for the wrong usage, which is a bug in the caller.
    pub fn fault(&self) -> Fault {
        match self {
            Self::WrongKeyUsage { .. } => Fault::Internal,
            _ => Fault::Client,
        }
    }

    /// Whether retrying with a fresh token may succeed: never, the KDC issues the same PAC.
    pub fn retryable(&self) -> bool {
        false
    }
}

//! The service account against the keytab: who holds each SPN, its key version and its
//! enctypes. Pure comparisons of what LDAP returned with the keytab, each with its fix.

use super::Check;

/// `msDS-SupportedEncryptionTypes` bits (MS-KILE §2.2.7) and the enctype each stands for.
pub const ENCTYPE_BITS: [(u32, i32, &str); 5] = [
    (0x01, 1, "des-cbc-crc"),
    (0x02, 3, "des-cbc-md5"),
    (0x04, 23, "rc4-hmac"),
    (0x08, 17, "aes128-cts-hmac-sha1-96"),
    (0x10, 18, "aes256-cts-hmac-sha1-96"),
];

/// The enctypes a KDC may encrypt a service ticket in, strongest first.
const TICKET_ENCTYPES: [i32; 3] = [18, 17, 23];

/// An account holding an SPN, as LDAP returned it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpnOwner {
    /// Its DN.
    pub dn: String,
    /// Its `sAMAccountName`.
    pub sam: String,
    /// `msDS-KeyVersionNumber`, if readable.
    pub kvno: Option<u32>,
    /// `msDS-SupportedEncryptionTypes`, if set.
    pub enctypes: Option<u32>,
}

/// The enctypes (numbers) a `msDS-SupportedEncryptionTypes` value allows.
pub fn enctypes_from_bits(bits: u32) -> Vec<i32> {
    ENCTYPE_BITS
        .iter()
        .filter(|(bit, _, _)| bits & bit != 0)
        .map(|(_, etype, _)| *etype)
        .collect()
}

/// A short name of an enctype number.
pub fn enctype_name(etype: i32) -> String {
    ENCTYPE_BITS
        .iter()
        .find(|(_, e, _)| *e == etype)
        .map_or_else(|| format!("enctype {etype}"), |(_, _, n)| (*n).to_owned())
}

fn names(etypes: &[i32]) -> String {
    if etypes.is_empty() {
        return "none".to_owned();
    }
    etypes
        .iter()
        .map(|e| enctype_name(*e))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `CORP\svc-gw`, or `svc-gw` when the NetBIOS name is unknown.
pub fn account_name(netbios: Option<&str>, sam: &str) -> String {
    match netbios {
        Some(n) => format!("{n}\\{sam}"),
        None => sam.to_owned(),
    }
}

/// Which owner of a duplicated SPN should keep it: the bind account, else the one whose key
/// version the keytab has, else none (the engineer decides).
pub fn choose_keeper(owners: &[SpnOwner], bind_dn: &str, keytab_kvnos: &[u32]) -> Option<usize> {
    let bind = bind_dn.to_ascii_lowercase();
    if let Some(i) = owners.iter().position(|o| {
        o.dn.eq_ignore_ascii_case(&bind)
            || bind
                .split('@')
                .next()
                .is_some_and(|user| bind.contains('@') && o.sam.eq_ignore_ascii_case(user))
    }) {
        return Some(i);
    }
    let matching: Vec<usize> = owners
        .iter()
        .enumerate()
        .filter(|(_, o)| o.kvno.is_some_and(|k| keytab_kvnos.contains(&k)))
        .map(|(i, _)| i)
        .collect();
    match matching.as_slice() {
        [one] => Some(*one),
        _ => None,
    }
}

/// Whether `spn` is registered on exactly one account.
pub fn spn_unique_check(
    spn: &str,
    owners: &[SpnOwner],
    keeper: Option<usize>,
    netbios: Option<&str>,
    service_sam: Option<&str>,
) -> Check {
    let title = "SPN registered on exactly one account";
    let listed = || {
        owners
            .iter()
            .map(|o| account_name(netbios, &o.sam))
            .collect::<Vec<_>>()
            .join(", ")
    };
    match owners {
        [] => {
            let account = account_name(netbios, service_sam.unwrap_or("<service account>"));
            Check::fail(
                "spn.unique",
                spn,
                title,
                "registered on no account".to_owned(),
                format!(
                    "no account has servicePrincipalName {spn}, so the KDC refuses tickets for \
                     it (KDC_ERR_S_PRINCIPAL_UNKNOWN): setspn -S {spn} {account} (Samba: \
                     samba-tool spn add {spn} {})",
                    service_sam.unwrap_or("<account>")
                ),
            )
        }
        [one] => Check::pass(
            "spn.unique",
            spn,
            title,
            format!("on {}", account_name(netbios, &one.sam)),
        ),
        _ => {
            let removals: Vec<String> = owners
                .iter()
                .enumerate()
                .filter(|(i, _)| Some(*i) != keeper)
                .map(|(_, o)| format!("setspn -D {spn} {}", account_name(netbios, &o.sam)))
                .collect();
            let keep = keeper
                .and_then(|k| owners.get(k))
                .map(|o| {
                    format!(
                        "; keep it on {}, whose keys the keytab holds",
                        account_name(netbios, &o.sam)
                    )
                })
                .unwrap_or_else(|| {
                    "; keep it only on the account the keytab was exported from (remove it \
                     from the others)"
                        .to_owned()
                });
            Check::fail(
                "spn.unique",
                spn,
                title,
                format!("registered on {} accounts: {}", owners.len(), listed()),
                format!(
                    "a duplicate SPN makes the KDC encrypt tickets with either account's key, \
                     so sign-ins fail at random: {}{keep}",
                    removals.join("; ")
                ),
            )
        }
    }
}

/// Whether the keytab holds the account's current key version for `spn`.
pub fn kvno_check(
    spn: &str,
    owner: &SpnOwner,
    keytab_kvnos: &[u32],
    netbios: Option<&str>,
    keytab_path: &str,
) -> Check {
    let title = "keytab kvno = msDS-KeyVersionNumber";
    let account = account_name(netbios, &owner.sam);
    let have = keytab_kvnos
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    let Some(ad) = owner.kvno else {
        return Check::warn(
            "account.kvno",
            spn,
            title,
            format!("keytab has kvno {have}; AD did not return msDS-KeyVersionNumber"),
            format!(
                "the bind account cannot read msDS-KeyVersionNumber of {account}: grant it read \
                 access, or compare by hand (Get-ADUser {} -Properties msDS-KeyVersionNumber)",
                owner.sam
            ),
        );
    };
    if keytab_kvnos.is_empty() {
        return Check::fail(
            "account.kvno",
            spn,
            title,
            format!("the keytab has no key for {spn}; AD has kvno {ad}"),
            format!(
                "export a keytab for {spn} from {account} into {keytab_path} (ktpass -princ \
                 {spn}@REALM -mapuser {account} … / samba-tool domain exportkeytab \
                 --principal={spn})"
            ),
        );
    }
    if keytab_kvnos.contains(&ad) {
        return Check::pass(
            "account.kvno",
            spn,
            title,
            format!("keytab has kvno {have}; AD has {ad} for {account}"),
        );
    }
    Check::fail(
        "account.kvno",
        spn,
        title,
        format!("keytab has kvno {have}; AD has {ad} for {account}"),
        format!(
            "the keytab has kvno {have} but AD has msDS-KeyVersionNumber {ad} for {account}: the \
             password changed after the keytab was exported; export a new keytab into \
             {keytab_path} (ktpass -princ {spn}@REALM -mapuser {account} -out … / samba-tool \
             domain exportkeytab --principal={spn} …)"
        ),
    )
}

/// Whether the keytab has a key of the enctype the KDC will use for `spn`'s tickets, and
/// whether that is only RC4. `keytab_etypes` are the keytab's enctypes at the account's kvno.
pub fn enctype_check(
    spn: &str,
    owner: &SpnOwner,
    keytab_etypes: &[i32],
    netbios: Option<&str>,
) -> Check {
    let title = "msDS-SupportedEncryptionTypes vs keytab enctypes";
    let account = account_name(netbios, &owner.sam);
    // Unset: the KDC treats the account as RC4-only (AD's default for accounts without the
    // attribute before DefaultDomainSupportedEncTypes; Samba's too).
    let (ad, ad_label) = match owner.enctypes {
        Some(bits) if bits & 0x1f != 0 => (
            enctypes_from_bits(bits),
            format!("0x{bits:x}: {}", names(&enctypes_from_bits(bits))),
        ),
        Some(bits) => (
            vec![23],
            format!("0x{bits:x}: no enctype bit, RC4 by default"),
        ),
        None => (vec![23], "not set: RC4 by default".to_owned()),
    };
    let value = format!("AD {ad_label}; keytab {}", names(keytab_etypes));
    let ticket = TICKET_ENCTYPES.iter().find(|e| ad.contains(e)).copied();
    let aes_fix = format!(
        "allow AES on {account} (Set-ADUser {} -KerberosEncryptionType AES128,AES256, i.e. \
         msDS-SupportedEncryptionTypes = 0x18) and export a new keytab with AES keys",
        owner.sam
    );
    let Some(ticket) = ticket else {
        return Check::fail(
            "account.enctypes",
            spn,
            title,
            value,
            format!("{account} allows only DES, which the gateway refuses: {aes_fix}"),
        );
    };
    if !keytab_etypes.contains(&ticket) {
        return Check::fail(
            "account.enctypes",
            spn,
            title,
            value,
            format!(
                "the KDC encrypts tickets for {spn} with {} (the strongest enctype {account} \
                 allows) but the keytab has no such key: export the keytab again with all the \
                 account's enctypes (ktpass /crypto ALL, or samba-tool domain exportkeytab)",
                enctype_name(ticket)
            ),
        );
    }
    if ticket == 23 {
        return Check::warn(
            "account.enctypes",
            spn,
            title,
            format!("{value}; tickets will be RC4"),
            format!("RC4-only: RC4 is deprecated and being disabled in AD; {aes_fix}"),
        );
    }
    Check::pass(
        "account.enctypes",
        spn,
        title,
        format!("{value}; tickets will be {}", enctype_name(ticket)),
    )
}

#[cfg(test)]
mod tests {
    use super::super::Status;
    use super::*;

    fn owner(sam: &str, kvno: Option<u32>, enctypes: Option<u32>) -> SpnOwner {
        SpnOwner {
            dn: format!("CN={sam},CN=Users,DC=corp,DC=test"),
            sam: sam.to_owned(),
            kvno,
            enctypes,
        }
    }

    #[test]
    fn enctype_bits() {
        assert_eq!(enctypes_from_bits(0x1c), vec![23, 17, 18]);
        assert_eq!(enctypes_from_bits(0x18), vec![17, 18]);
        assert_eq!(enctypes_from_bits(0x4), vec![23]);
        assert_eq!(enctypes_from_bits(0x20), Vec::<i32>::new());
        assert_eq!(enctype_name(18), "aes256-cts-hmac-sha1-96");
        assert_eq!(enctype_name(99), "enctype 99");
    }

    #[test]
    fn duplicates_name_every_extra_account() {
        let owners = [
            owner("svc-gw", Some(1), None),
            owner("svc-other", Some(1), None),
        ];
        let keeper = choose_keeper(&owners, "CN=svc-gw,CN=Users,DC=corp,DC=test", &[1]);
        assert_eq!(keeper, Some(0));
        let c = spn_unique_check("HTTP/gw.corp.test", &owners, keeper, Some("CORP"), None);
        assert_eq!(c.status, Status::Fail);
        assert_eq!(
            c.value,
            "registered on 2 accounts: CORP\\svc-gw, CORP\\svc-other"
        );
        let fix = c.fix.unwrap();
        assert!(
            fix.contains("setspn -D HTTP/gw.corp.test CORP\\svc-other; keep it on CORP\\svc-gw")
        );
        assert!(!fix.contains("setspn -D HTTP/gw.corp.test CORP\\svc-gw"));
        // A UPN as the bind name; the keytab's kvno when the bind account is not an owner.
        assert_eq!(choose_keeper(&owners, "svc-other@corp.test", &[1]), Some(1));
        let owners = [owner("a", Some(2), None), owner("b", Some(5), None)];
        assert_eq!(choose_keeper(&owners, "CN=x", &[5]), Some(1));
        assert_eq!(choose_keeper(&owners, "CN=x", &[7]), None);

        let none = spn_unique_check("HTTP/x", &[], None, Some("CORP"), Some("svc-gw"));
        assert!(none.fix.unwrap().contains("setspn -S HTTP/x CORP\\svc-gw"));
        let one = spn_unique_check("HTTP/x", &owners[..1], Some(0), None, None);
        assert_eq!((one.status, one.value.as_str()), (Status::Pass, "on a"));
    }

    #[test]
    fn kvno_mismatch_says_the_password_changed() {
        let o = owner("svc-gw", Some(2), Some(0x1c));
        let c = kvno_check(
            "HTTP/gw.corp.test",
            &o,
            &[1],
            Some("CORP"),
            "/etc/gw.keytab",
        );
        assert_eq!(c.status, Status::Fail);
        assert!(c.fix.unwrap().starts_with(
            "the keytab has kvno 1 but AD has msDS-KeyVersionNumber 2 for CORP\\svc-gw: the \
             password changed after the keytab was exported; export a new keytab"
        ));
        // After a rotation the keytab holds both: fine.
        let ok = kvno_check("HTTP/gw.corp.test", &o, &[1, 2], None, "k");
        assert_eq!(ok.status, Status::Pass);
        let unknown = kvno_check(
            "HTTP/gw.corp.test",
            &owner("s", None, None),
            &[1],
            None,
            "k",
        );
        assert_eq!(unknown.status, Status::Warn);
        let empty = kvno_check("HTTP/gw.corp.test", &o, &[], None, "k");
        assert_eq!(empty.status, Status::Fail);
    }

    #[test]
    fn enctypes() {
        let aes = owner("svc-gw", Some(1), Some(0x1c));
        let c = enctype_check("HTTP/gw", &aes, &[18, 17, 23], None);
        assert_eq!(c.status, Status::Pass);
        assert!(
            c.value.ends_with("tickets will be aes256-cts-hmac-sha1-96"),
            "{}",
            c.value
        );
        // AD issues AES256 tickets but the keytab has only RC4.
        let c = enctype_check("HTTP/gw", &aes, &[23], None);
        assert_eq!(c.status, Status::Fail);
        // Unset attribute: RC4-only, a warning when the keytab has RC4.
        let rc4 = owner("svc-rc4", Some(1), None);
        let c = enctype_check("HTTP/rc4", &rc4, &[23], Some("CORP"));
        assert_eq!(c.status, Status::Warn);
        assert!(c.fix.unwrap().starts_with("RC4-only"));
        let des = owner("old", Some(1), Some(0x3));
        assert_eq!(
            enctype_check("HTTP/d", &des, &[18], None).status,
            Status::Fail
        );
    }
}

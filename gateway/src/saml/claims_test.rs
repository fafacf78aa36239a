use super::*;
use crate::config::identity::GroupPattern;
use crate::config::saml::{AttributeRule, NameIdRule, RequestSignatures};
use crate::identity::{GroupRef, Source};
use crate::saml::response::Signing;

fn alice() -> UserIdentity {
    UserIdentity {
        principal: "alice@CORP.TEST".into(),
        sid: Some("S-1-5-21-1-2-3-1104".into()),
        groups: vec![
            GroupRef {
                name: Some("Engineering".into()),
                sid: "S-1-5-21-1-2-3-1111".into(),
            },
            GroupRef {
                name: Some("App-Users".into()),
                sid: "S-1-5-21-1-2-3-1112".into(),
            },
            GroupRef {
                name: None,
                sid: "S-1-5-21-1-2-3-1113".into(),
            },
        ],
        attributes: vec![
            ("mail".into(), vec!["alice@corp.test".into()]),
            ("displayName".into(), vec!["Alice Liddell".into()]),
        ],
        upn: Some("alice@corp.test".into()),
        account_name: Some("alice".into()),
        // 01020304-0506-0708-090a-0b0c0d0e0f10 as AD stores it (mixed-endian).
        object_guid: Some([4, 3, 2, 1, 6, 5, 8, 7, 9, 10, 11, 12, 13, 14, 15, 16]),
        source: Source::Directory,
    }
}

fn rule(name: &str, source: ValueSource, patterns: &[&str]) -> AttributeRule {
    AttributeRule {
        name: name.into(),
        name_format: "urn:oasis:names:tc:SAML:2.0:attrname-format:unspecified".into(),
        source,
        group_patterns: patterns
            .iter()
            .map(|p| GroupPattern(glob::Pattern::new(p).unwrap()))
            .collect(),
    }
}

fn sp(source: ValueSource, attributes: Vec<AttributeRule>) -> ServiceProvider {
    ServiceProvider {
        entity_id: "urn:federation:MicrosoftOnline".into(),
        display_name: "M365".into(),
        acs: Vec::new(),
        certificate: None,
        request_signatures: RequestSignatures::None,
        name_id: NameIdRule {
            format: "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent".into(),
            source,
        },
        attributes,
        sign: Signing::Assertion,
        assertion_lifetime_secs: 300,
        issuer: "https://gw.corp.test/saml/metadata".into(),
        issuer_by_upn_domain: vec![("corp.test".into(), "https://gw/saml/corp.test".into())],
        slo: None,
        idp_initiated: true,
    }
}

#[test]
fn name_id_sources() {
    let id = alice();
    let value = |s| name_id(&sp(s, vec![]), &id, Some(&[7; 32])).map(|n| n.value);
    assert_eq!(value(ValueSource::Upn).unwrap(), "alice@corp.test");
    assert_eq!(value(ValueSource::Mail).unwrap(), "alice@corp.test");
    assert_eq!(value(ValueSource::AccountName).unwrap(), "alice");
    assert_eq!(value(ValueSource::Principal).unwrap(), "alice@CORP.TEST");
    assert_eq!(value(ValueSource::Sid).unwrap(), "S-1-5-21-1-2-3-1104");
    // ImmutableID: base64 of the 16 octets as stored, what Azure AD Connect sets.
    assert_eq!(
        value(ValueSource::ObjectGuid).unwrap(),
        "BAMCAQYFCAcJCgsMDQ4PEA=="
    );
    assert_eq!(
        value(ValueSource::Ldap("displayName".into())).unwrap(),
        "Alice Liddell"
    );
    assert_eq!(
        value(ValueSource::Pairwise).unwrap(),
        pairwise(
            &[7; 32],
            "urn:federation:MicrosoftOnline",
            "S-1-5-21-1-2-3-1104"
        )
    );
}

#[test]
fn a_missing_name_id_value_is_an_error_not_an_empty_id() {
    let id = UserIdentity {
        upn: None,
        object_guid: None,
        attributes: vec![],
        ..alice()
    };
    assert_eq!(
        name_id(&sp(ValueSource::Upn, vec![]), &id, None),
        Err(MissingValue("userPrincipalName"))
    );
    assert!(name_id(&sp(ValueSource::ObjectGuid, vec![]), &id, None).is_err());
    assert!(name_id(&sp(ValueSource::Mail, vec![]), &id, None).is_err());
    assert!(name_id(&sp(ValueSource::Pairwise, vec![]), &alice(), None).is_err());
}

#[test]
fn pairwise_ids_differ_per_sp_and_key_and_are_stable() {
    let a = pairwise(&[1; 32], "https://a", "S-1-5-21-1");
    assert_eq!(a, pairwise(&[1; 32], "https://a", "S-1-5-21-1"));
    assert_ne!(a, pairwise(&[1; 32], "https://b", "S-1-5-21-1"));
    assert_ne!(a, pairwise(&[2; 32], "https://a", "S-1-5-21-1"));
    // The separator: ("ab", "c") and ("a", "bc") are different inputs.
    assert_ne!(pairwise(&[1; 32], "ab", "c"), pairwise(&[1; 32], "a", "bc"));
}

#[test]
fn attribute_mapping_filters_groups_and_skips_empty_attributes() {
    let rules = vec![
        rule("IDPEmail", ValueSource::Upn, &[]),
        rule(
            "groups",
            ValueSource::Groups,
            &["app-*", "S-1-5-21-1-2-3-1113"],
        ),
        rule("all", ValueSource::Groups, &[]),
        rule("dept", ValueSource::Ldap("department".into()), &[]),
    ];
    let got = attributes(&sp(ValueSource::Upn, rules), &alice(), None);
    let names: Vec<&str> = got.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ["IDPEmail", "groups", "all"]);
    assert_eq!(got[0].values, ["alice@corp.test"]);
    // Case-insensitive glob on the name; an unnamed group by its SID.
    assert_eq!(got[1].values, ["App-Users", "S-1-5-21-1-2-3-1113"]);
    assert_eq!(got[2].values.len(), 3);
}

#[test]
fn the_issuer_follows_the_upn_domain() {
    let sp = sp(ValueSource::Upn, vec![]);
    assert_eq!(
        sp.issuer_for(Some("alice@CORP.test")),
        "https://gw/saml/corp.test"
    );
    assert_eq!(
        sp.issuer_for(Some("bob@other.test")),
        "https://gw.corp.test/saml/metadata"
    );
    assert_eq!(sp.issuer_for(None), "https://gw.corp.test/saml/metadata");
}

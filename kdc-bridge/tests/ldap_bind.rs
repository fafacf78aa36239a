//! Transport security and the service account's bind against the test DC: LDAPS and StartTLS
//! with the DC's CA, the exact errors of a wrong CA, a wrong name and a wrong password, and
//! plain LDAP only when configured as insecure.
#![cfg(feature = "net")]

mod ldap_common;

use std::sync::Arc;

use kdc_bridge::net::dc::DcEndpoint;
use kdc_bridge::net::ldap::{
    load_ca_bundle, tls_config_from_pem, BindPassword, Directory, DirectoryError, NoopObserver,
    PasswordVerdict, Security, UserKey,
};
use ldap_common::{ad, dc_ldap, dc_ldaps, unrelated_ca_pem, DC_IP};
use rustls::CertificateError;
use zeroize::Zeroizing;

fn directory(dcs: Vec<DcEndpoint>, security: Security) -> Directory {
    Directory::new(ad().config(dcs, security), Arc::new(NoopObserver)).unwrap()
}

async fn alice_mail(dir: &Directory) -> Result<String, DirectoryError> {
    let found = dir
        .fetch(&UserKey::sam_account_name("alice").unwrap())
        .await?;
    Ok(found
        .expect("alice exists")
        .text("mail")
        .expect("alice has mail")
        .to_owned())
}

#[tokio::test]
async fn ldaps_with_the_ca_bundle_file() {
    let tls = load_ca_bundle(&ad().ca_path()).unwrap();
    let dir = directory(vec![dc_ldaps()], Security::Ldaps(tls));
    assert_eq!(alice_mail(&dir).await.unwrap(), "alice@corp.test");
}

#[tokio::test]
async fn starttls_on_389() {
    let dir = directory(vec![dc_ldap()], ad().starttls());
    assert_eq!(alice_mail(&dir).await.unwrap(), "alice@corp.test");
}

#[tokio::test]
async fn the_certificate_is_checked_for_the_dc_name() {
    // The DC's certificate names dc1.corp.test (and 127.0.0.21): reached at its address under
    // that name it is accepted, under another name it is not.
    let addr = format!("{DC_IP}:636").parse().unwrap();
    let dc1 = DcEndpoint::new("dc1.corp.test", 636).with_connect_to(addr);
    assert_eq!(
        alice_mail(&directory(vec![dc1], ad().ldaps()))
            .await
            .unwrap(),
        "alice@corp.test"
    );

    let dc9 = DcEndpoint::new("dc9.corp.test", 636).with_connect_to(addr);
    match alice_mail(&directory(vec![dc9], ad().ldaps())).await {
        Err(DirectoryError::Tls {
            dc,
            error:
                rustls::Error::InvalidCertificate(CertificateError::NotValidForNameContext { .. }),
        }) => assert_eq!(dc, "dc9.corp.test:636"),
        other => panic!("expected a name mismatch, got {other:?}"),
    }
}

#[tokio::test]
async fn a_wrong_ca_is_an_unknown_issuer() {
    let tls = tls_config_from_pem(&unrelated_ca_pem(), "unrelated.pem").unwrap();
    let dir = directory(vec![dc_ldaps()], Security::Ldaps(tls.clone()));
    let error = alice_mail(&dir).await.unwrap_err();
    assert_eq!(
        error,
        DirectoryError::Tls {
            dc: "127.0.0.21:636".into(),
            error: rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer),
        }
    );
    assert_eq!(error.reason(), "tls");
    assert!(!error.retryable());

    // The same after StartTLS.
    let dir = directory(vec![dc_ldap()], Security::StartTls(tls));
    assert_eq!(
        alice_mail(&dir).await.unwrap_err(),
        DirectoryError::Tls {
            dc: "127.0.0.21:389".into(),
            error: rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer),
        }
    );
}

#[tokio::test]
async fn plain_ldap_only_when_insecure_is_set() {
    let config = ad().config(vec![dc_ldap()], Security::Plain);
    assert_eq!(
        Directory::new(config, Arc::new(NoopObserver)).unwrap_err(),
        DirectoryError::InsecureNotAllowed
    );

    let mut config = ad().config(vec![dc_ldap()], Security::Plain);
    config.insecure = true;
    let dir = Directory::new(config, Arc::new(NoopObserver)).unwrap();
    assert_eq!(alice_mail(&dir).await.unwrap(), "alice@corp.test");
}

#[tokio::test]
async fn a_wrong_password_is_bind_rejected_on_every_dc() {
    // Two DCs (the same server under two names): a refused bind fails over, since a DC may
    // not have the account's new password yet, and the last DC's answer is reported.
    let addr = format!("{DC_IP}:636").parse().unwrap();
    let dc1 = DcEndpoint::new("dc1.corp.test", 636).with_connect_to(addr);
    let mut config = ad().config(vec![dc_ldaps(), dc1], ad().ldaps());
    config.service_account.password = BindPassword::new(Zeroizing::new("wrong".to_owned()));
    let dir = Directory::new(config, Arc::new(NoopObserver)).unwrap();
    let error = alice_mail(&dir).await.unwrap_err();
    assert_eq!(
        error,
        DirectoryError::BindRejected {
            dc: "dc1.corp.test:636".into(),
            code: 49
        }
    );
    // Our configuration's fault; the DCs are fine and stay up.
    assert_eq!(error.fault(), kdc_bridge::proto::error::Fault::Internal);
    let status = dir.status();
    assert_eq!(status.dcs.len(), 2);
    assert!(status.dcs.iter().all(|d| d.up && d.streak == 0));
}

#[tokio::test]
async fn user_passwords_are_checked_by_a_bind_as_the_user() {
    // The login form's check: a dead DC first, so the check fails over like a lookup.
    let dir = directory(vec![ldap_common::dead_dc(), dc_ldaps()], ad().ldaps());
    let key = |n: &str| UserKey::sam_account_name(n).unwrap();
    let alice_pw = ad().var("IWA_AD_PW_ALICE").to_owned();
    match dir.check_password(&key("alice"), &alice_pw).await.unwrap() {
        PasswordVerdict::Valid(identity) => {
            assert_eq!(identity.sam_account_name.as_deref(), Some("alice"));
            assert_eq!(identity.text("mail"), Some("alice@corp.test"));
        }
        other => panic!("alice's password: {other:?}"),
    }
    let upn = UserKey::upn("alice@corp.test").unwrap();
    assert!(matches!(
        dir.check_password(&upn, &alice_pw).await.unwrap(),
        PasswordVerdict::Valid(_)
    ));
    assert_eq!(
        dir.check_password(&key("alice"), "wrong").await.unwrap(),
        PasswordVerdict::Wrong
    );
    // An empty password would be an unauthenticated bind, which succeeds: never sent.
    assert_eq!(
        dir.check_password(&key("alice"), "").await.unwrap(),
        PasswordVerdict::Wrong
    );
    assert_eq!(
        dir.check_password(&key("nobody"), "x").await.unwrap(),
        PasswordVerdict::NoSuchUser
    );
    let mallory_pw = ad().var("IWA_AD_PW_MALLORY").to_owned();
    assert_eq!(
        dir.check_password(&key("mallory"), &mallory_pw)
            .await
            .unwrap(),
        PasswordVerdict::Disabled
    );
    // A wrong user password is no reason to take the DC out of rotation.
    let status = dir.status();
    assert!(
        status
            .dcs
            .iter()
            .any(|d| d.dc == "127.0.0.21:636" && d.up && d.streak == 0),
        "{status:?}"
    );
}

use std::time::Duration;

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use zayavki_identity::{Algorithm, IdentityConfig, Role, TokenMinter};

use crate::helpers::{RSA_KID, fixture, hs256_config, minter, verifier};

fn decoded_part(token: &str, index: usize) -> serde_json::Value {
    let part = token.split('.').nth(index).expect("part");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("base64url")).expect("json")
}

#[test]
fn minted_tokens_carry_the_configured_issuer_audience_and_key_id() {
    let config = IdentityConfig::default()
        .with_jwks_file(fixture("jwks.json"))
        .with_private_key_file(fixture("rsa-private.pem"))
        .with_key_id(RSA_KID)
        .with_issuer("zayavki-cli")
        .with_audience("application-service");
    let minter = minter(&config);

    let token = minter
        .mint(
            "user-1",
            Some("Anna"),
            &[Role::Applicant, Role::Operator],
            Duration::from_secs(60),
        )
        .expect("token");

    assert_eq!(minter.algorithm(), Algorithm::RS256);
    let header = decoded_part(&token, 0);
    let claims = decoded_part(&token, 1);
    assert_eq!(header["kid"], RSA_KID);
    assert_eq!(claims["iss"], "zayavki-cli");
    assert_eq!(claims["aud"], "application-service");
    assert_eq!(
        claims["roles"],
        serde_json::json!(["applicant", "operator"])
    );
    assert!(verifier(&config).verify(&token).is_ok());
}

#[test]
fn the_development_configuration_mints_and_verifies_its_own_tokens() {
    let (config, key) = IdentityConfig::development();
    let token = minter(&config)
        .mint("dev", None, &[Role::Operator], Duration::from_secs(60))
        .expect("token");
    let same_secret = IdentityConfig::default().with_secret(key.expose_secret());

    assert!(verifier(&config).verify(&token).is_ok());
    assert!(verifier(&same_secret).verify(&token).is_ok());
}

#[test]
fn minting_needs_a_subject_and_a_signing_key() {
    let minter = minter(&hs256_config());

    assert!(
        minter
            .mint(" ", None, &[], Duration::from_secs(60))
            .is_err()
    );
    let error = TokenMinter::new(
        &IdentityConfig::default().with_public_key_file(fixture("rsa-public.pem")),
    )
    .expect_err("public keys cannot sign");
    assert!(
        error.to_string().contains("JWT_PRIVATE_KEY_FILE"),
        "{error}"
    );
}

#[test]
fn a_public_key_is_not_accepted_as_a_private_key() {
    let config = IdentityConfig::default().with_private_key_file(fixture("rsa-public.pem"));

    let error = TokenMinter::new(&config).expect_err("public key");

    assert!(format!("{error:#}").contains("private key"), "{error:#}");
}

use std::{collections::BTreeSet, time::Duration};

use zayavki_identity::{AuthError, IdentityConfig, Role, TokenVerifier};

use crate::helpers::{
    EC_KID, RSA_KID, SECRET, Signer, ec_config, fixture, hs256_config, minter, now, rsa_config,
    sign, unsigned, valid_claims, verifier,
};

fn jwks_config() -> IdentityConfig {
    IdentityConfig::default().with_jwks_file(fixture("jwks.json"))
}

#[test]
fn a_valid_hs256_token_yields_its_identity() {
    let config = hs256_config();
    let token = minter(&config)
        .mint(
            "user-1",
            Some("Anna"),
            &[Role::Applicant],
            Duration::from_secs(60),
        )
        .expect("token");

    let identity = verifier(&config).verify(&token).expect("valid");

    assert_eq!(identity.subject, "user-1");
    assert_eq!(identity.name.as_deref(), Some("Anna"));
    assert_eq!(identity.roles, BTreeSet::from([Role::Applicant]));
}

#[test]
fn a_valid_rs256_token_is_accepted_with_a_pem_public_key() {
    let config = rsa_config();
    let token = minter(&config)
        .mint("user-2", None, &[Role::Operator], Duration::from_secs(60))
        .expect("token");
    let verifier = verifier(&config);

    let identity = verifier.verify(&token).expect("valid");

    assert_eq!(identity.subject, "user-2");
    assert!(identity.has_role(Role::Operator));
    assert_eq!(
        verifier.accepted_algorithms(),
        [jsonwebtoken::Algorithm::RS256]
    );
}

#[test]
fn a_valid_es256_token_is_accepted_with_a_pem_public_key() {
    let config = ec_config();
    let token = minter(&config)
        .mint(
            "svc-reports",
            None,
            &[Role::Service],
            Duration::from_secs(60),
        )
        .expect("token");
    let verifier = verifier(&config);

    let identity = verifier.verify(&token).expect("valid");

    assert_eq!(identity.subject, "svc-reports");
    assert_eq!(
        verifier.accepted_algorithms(),
        [jsonwebtoken::Algorithm::ES256]
    );
}

#[test]
fn jwks_keys_are_selected_by_kid() {
    let verifier = verifier(&jwks_config());
    let rsa_token = sign(
        Signer::RsaPem("rsa-private.pem"),
        Some(RSA_KID),
        &valid_claims("a"),
    );
    let ec_token = sign(
        Signer::EcPem("ec-private.pem"),
        Some(EC_KID),
        &valid_claims("b"),
    );

    assert_eq!(
        verifier.verify(&rsa_token).map(|identity| identity.subject),
        Ok("a".to_owned())
    );
    assert_eq!(
        verifier.verify(&ec_token).map(|identity| identity.subject),
        Ok("b".to_owned())
    );
}

#[test]
fn a_kid_missing_from_the_jwks_is_an_unknown_key() {
    let verifier = verifier(&jwks_config());
    let token = sign(
        Signer::EcPem("ec-private.pem"),
        Some("retired-key"),
        &valid_claims("a"),
    );

    let error = verifier.verify(&token).expect_err("unknown kid");

    assert_eq!(
        error,
        AuthError::UnknownKey {
            kid: Some("retired-key".to_owned())
        }
    );
    assert!(error.to_string().contains("retired-key"), "{error}");
}

#[test]
fn a_token_without_kid_uses_the_only_jwks_key_of_its_algorithm() {
    let verifier = verifier(&jwks_config());
    let token = sign(Signer::EcPem("ec-private.pem"), None, &valid_claims("a"));

    assert!(verifier.verify(&token).is_ok());
}

#[test]
fn a_kid_naming_a_key_of_another_algorithm_is_refused() {
    let verifier = verifier(&jwks_config());
    let token = sign(
        Signer::EcPem("ec-private.pem"),
        Some(RSA_KID),
        &valid_claims("a"),
    );

    assert!(matches!(
        verifier.verify(&token),
        Err(AuthError::AlgorithmNotAllowed { .. })
    ));
}

#[test]
fn alg_none_is_refused_as_a_disallowed_algorithm() {
    let token = unsigned(
        &serde_json::json!({ "alg": "none", "typ": "JWT" }),
        &valid_claims("intruder"),
    );

    for config in [hs256_config(), rsa_config(), jwks_config()] {
        let error = verifier(&config).verify(&token).expect_err("alg none");

        assert!(
            matches!(&error, AuthError::AlgorithmNotAllowed { algorithm, .. } if algorithm == "none"),
            "{error:?}"
        );
        assert!(error.to_string().contains("`none`"), "{error}");
    }
}

#[test]
fn an_hs256_token_signed_with_the_public_key_is_refused_by_an_rs256_verifier() {
    // The classic confusion: the attacker uses the (public) RSA key as an HMAC secret.
    let public_pem = std::fs::read_to_string(fixture("rsa-public.pem")).expect("fixture");
    let secret: &'static str = Box::leak(public_pem.into_boxed_str());
    let token = sign(Signer::Secret(secret), None, &valid_claims("intruder"));

    let error = verifier(&rsa_config())
        .verify(&token)
        .expect_err("confusion");

    assert_eq!(
        error,
        AuthError::AlgorithmNotAllowed {
            algorithm: "HS256".to_owned(),
            accepted: "RS256".to_owned(),
        }
    );
}

#[test]
fn an_rs256_token_is_refused_by_an_hs256_verifier() {
    let token = sign(Signer::RsaPem("rsa-private.pem"), None, &valid_claims("a"));

    let error = verifier(&hs256_config())
        .verify(&token)
        .expect_err("wrong family");

    assert!(
        matches!(error, AuthError::AlgorithmNotAllowed { .. }),
        "{error:?}"
    );
}

#[test]
fn an_expired_token_is_refused_but_leeway_covers_small_skew() {
    let verifier = verifier(&hs256_config());
    let mut claims = valid_claims("a");
    claims["exp"] = (now() - 120).into();
    let expired = sign(Signer::Secret(SECRET), None, &claims);
    claims["exp"] = (now() - 10).into();
    let within_leeway = sign(Signer::Secret(SECRET), None, &claims);

    assert_eq!(verifier.verify(&expired), Err(AuthError::Expired));
    assert!(verifier.verify(&within_leeway).is_ok());
}

#[test]
fn a_token_used_before_nbf_is_not_yet_valid() {
    let mut claims = valid_claims("a");
    claims["nbf"] = (now() + 600).into();
    let token = sign(Signer::Secret(SECRET), None, &claims);

    assert_eq!(
        verifier(&hs256_config()).verify(&token),
        Err(AuthError::NotYetValid)
    );
}

#[test]
fn malformed_tokens_are_reported_as_malformed() {
    let verifier = verifier(&hs256_config());
    let no_alg = unsigned(&serde_json::json!({ "typ": "JWT" }), &valid_claims("a"));
    let mut garbage_claims = sign(Signer::Secret(SECRET), None, &valid_claims("a"));
    garbage_claims.replace_range(
        garbage_claims.find('.').expect("dot") + 1..garbage_claims.rfind('.').expect("dot"),
        "bm90IGpzb24",
    );

    for token in [
        "",
        "not-a-jwt",
        "a.b",
        "a.b.c.d",
        "!!!.e30.c2ln",
        no_alg.as_str(),
    ] {
        assert!(
            matches!(verifier.verify(token), Err(AuthError::Malformed { .. })),
            "{token:?}"
        );
    }
    assert!(matches!(
        verifier.verify(&garbage_claims),
        Err(AuthError::BadSignature | AuthError::Malformed { .. })
    ));
}

#[test]
fn forged_signatures_are_refused() {
    let cases = [
        (
            hs256_config(),
            sign(
                Signer::Secret("another-secret-of-sufficient-length!!"),
                None,
                &valid_claims("a"),
            ),
        ),
        (
            rsa_config(),
            sign(
                Signer::RsaPem("rsa-other-private.pem"),
                None,
                &valid_claims("a"),
            ),
        ),
        (
            ec_config(),
            sign(
                Signer::EcPem("ec-other-private.pem"),
                None,
                &valid_claims("a"),
            ),
        ),
    ];

    for (config, token) in cases {
        assert_eq!(
            verifier(&config).verify(&token),
            Err(AuthError::BadSignature)
        );
    }
}

#[test]
fn a_tampered_payload_breaks_the_signature() {
    let token = sign(Signer::Secret(SECRET), None, &valid_claims("user"));
    let parts: Vec<&str> = token.split('.').collect();
    let mut claims = valid_claims("admin");
    claims["exp"] = (now() + 300).into();
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        base64::Engine::encode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            claims.to_string()
        ),
        parts[2]
    );

    assert_eq!(
        verifier(&hs256_config()).verify(&forged),
        Err(AuthError::BadSignature)
    );
}

#[test]
fn the_issuer_is_checked_when_configured() {
    let verifier = verifier(&hs256_config().with_issuer("zayavki-auth"));
    let mut claims = valid_claims("a");
    let without_issuer = sign(Signer::Secret(SECRET), None, &claims);
    claims["iss"] = "someone-else".into();
    let wrong_issuer = sign(Signer::Secret(SECRET), None, &claims);
    claims["iss"] = "zayavki-auth".into();
    let right_issuer = sign(Signer::Secret(SECRET), None, &claims);

    assert_eq!(verifier.verify(&wrong_issuer), Err(AuthError::WrongIssuer));
    assert_eq!(
        verifier.verify(&without_issuer),
        Err(AuthError::WrongIssuer)
    );
    assert!(verifier.verify(&right_issuer).is_ok());
}

#[test]
fn the_audience_is_checked_when_configured() {
    let verifier = verifier(&hs256_config().with_audience("application-service"));
    let mut claims = valid_claims("a");
    let without_audience = sign(Signer::Secret(SECRET), None, &claims);
    claims["aud"] = serde_json::json!(["report-service"]);
    let wrong_audience = sign(Signer::Secret(SECRET), None, &claims);
    claims["aud"] = serde_json::json!(["report-service", "application-service"]);
    let one_of_several = sign(Signer::Secret(SECRET), None, &claims);
    claims["aud"] = serde_json::json!("application-service");
    let single = sign(Signer::Secret(SECRET), None, &claims);

    assert_eq!(
        verifier.verify(&wrong_audience),
        Err(AuthError::WrongAudience)
    );
    assert_eq!(
        verifier.verify(&without_audience),
        Err(AuthError::WrongAudience)
    );
    assert!(verifier.verify(&one_of_several).is_ok());
    assert!(verifier.verify(&single).is_ok());
}

#[test]
fn any_audience_is_accepted_when_none_is_configured() {
    let mut claims = valid_claims("a");
    claims["aud"] = "anything".into();
    let token = sign(Signer::Secret(SECRET), None, &claims);

    assert!(verifier(&hs256_config()).verify(&token).is_ok());
}

#[test]
fn a_token_needs_a_subject_and_an_expiry() {
    let verifier = verifier(&hs256_config());
    let no_subject = sign(
        Signer::Secret(SECRET),
        None,
        &serde_json::json!({ "exp": now() + 60 }),
    );
    let empty_subject = sign(
        Signer::Secret(SECRET),
        None,
        &serde_json::json!({ "sub": "", "exp": now() + 60 }),
    );
    let no_expiry = sign(
        Signer::Secret(SECRET),
        None,
        &serde_json::json!({ "sub": "a" }),
    );

    assert_eq!(verifier.verify(&no_subject), Err(AuthError::MissingSubject));
    assert_eq!(
        verifier.verify(&empty_subject),
        Err(AuthError::MissingSubject)
    );
    assert_eq!(verifier.verify(&no_expiry), Err(AuthError::MissingExpiry));
}

#[test]
fn unknown_roles_in_the_token_are_ignored() {
    let mut claims = valid_claims("a");
    claims["roles"] = serde_json::json!(["operator", "superuser", "service"]);
    let token = sign(Signer::Secret(SECRET), None, &claims);

    let identity = verifier(&hs256_config()).verify(&token).expect("valid");

    assert_eq!(
        identity.roles,
        BTreeSet::from([Role::Operator, Role::Service])
    );
}

#[test]
fn a_verified_token_verifies_again_from_the_cache() {
    let verifier = verifier(&hs256_config());
    let token = sign(Signer::Secret(SECRET), None, &valid_claims("a"));

    let first = verifier.verify(&token).expect("valid");
    let second = verifier.clone().verify(&token).expect("still valid");

    assert_eq!(first, second);
}

#[test]
fn production_refuses_to_build_a_verifier_without_a_key() {
    let error = TokenVerifier::new(&IdentityConfig::default().in_production(true))
        .expect_err("no key in production");

    let message = format!("{error:#}");
    assert!(message.contains("JWT_SECRET"), "{message}");
    assert!(message.contains("production"), "{message}");
}

#[test]
fn development_without_a_key_builds_a_verifier_that_refuses_every_token() {
    let verifier = verifier(&IdentityConfig::default());
    let token = sign(Signer::Secret(SECRET), None, &valid_claims("a"));

    assert_eq!(verifier.verify(&token), Err(AuthError::NoKeyConfigured));
}

#[test]
fn production_refuses_a_short_secret() {
    let error = TokenVerifier::new(
        &IdentityConfig::default()
            .with_secret("short")
            .in_production(true),
    )
    .expect_err("short secret");

    assert!(format!("{error:#}").contains("at least 32"), "{error:#}");
}

#[test]
fn unusable_key_files_fail_at_startup_with_the_variable_name() {
    let cases = [
        (
            IdentityConfig::default().with_public_key_file(fixture("ec-p384-public.pem")),
            "P-256",
        ),
        (
            IdentityConfig::default().with_public_key_file(fixture("rsa-private.pem")),
            "private key",
        ),
        (
            IdentityConfig::default().with_public_key_file(fixture("missing.pem")),
            "cannot read",
        ),
        (
            IdentityConfig::default().with_jwks_file(fixture("rsa-public.pem")),
            "not JSON",
        ),
    ];

    for (config, expected) in cases {
        let message = format!("{:#}", TokenVerifier::new(&config).expect_err("unusable"));
        assert!(message.contains(expected), "{message}");
        assert!(message.contains("JWT_"), "{message}");
    }
}

#[test]
fn several_key_kinds_can_be_configured_together() {
    let config = hs256_config().with_public_key_file(fixture("ec-public.pem"));
    let verifier = verifier(&config);
    let hs = sign(Signer::Secret(SECRET), None, &valid_claims("a"));
    let es = sign(Signer::EcPem("ec-private.pem"), None, &valid_claims("b"));
    let rs = sign(Signer::RsaPem("rsa-private.pem"), None, &valid_claims("c"));

    assert!(verifier.verify(&hs).is_ok());
    assert!(verifier.verify(&es).is_ok());
    assert!(matches!(
        verifier.verify(&rs),
        Err(AuthError::AlgorithmNotAllowed { .. })
    ));
}

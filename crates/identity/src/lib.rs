//! Bearer-token identity, roles and throttling shared by every zayavki service.
//!
//! - [`IdentityConfig`] says which keys verify and sign tokens ([`IdentityConfig::from_env`]).
//! - [`TokenVerifier`] turns a JWT into an [`Identity`]; [`TokenMinter`] signs tokens.
//! - [`GrpcAuthLayer`] (a tower layer) and [`authenticate_http`] (axum middleware) authenticate
//!   tonic and axum servers; [`identity_from_request`] and [`Authenticated`] hand the identity to
//!   handlers; [`authenticate_websocket`] covers WebSocket handshakes.
//! - [`Throttle`] limits each caller, with [`GrpcThrottle`] (a tonic interceptor) and
//!   [`throttle_http`] (axum middleware). People and anonymous addresses share one limit;
//!   callers with the `service` role have their own, higher one, since another service's calls
//!   carry the work of many people.
//!
//! # Environment
//!
//! | Variable | Default | Meaning |
//! |---|---|---|
//! | `JWT_SECRET` | unset | HS256 shared secret (at least 32 bytes; production refuses less) |
//! | `JWT_PUBLIC_KEY_FILE` | unset | PEM public key: RSA enables RS256, EC P-256 enables ES256 |
//! | `JWT_JWKS_FILE` | unset | JWKS file; RSA and EC P-256 keys, chosen by the token's `kid` |
//! | `JWT_PRIVATE_KEY_FILE` | unset | PKCS#8 PEM private key, only for minting RS256/ES256 tokens |
//! | `JWT_KEY_ID` | unset | `kid` written into minted tokens |
//! | `JWT_ISSUER` | unset | required `iss` when set; added to minted tokens |
//! | `JWT_AUDIENCE` | unset | comma-separated; a token's `aud` must name one of them when set |
//! | `JWT_LEEWAY_SECONDS` | 30 | clock skew tolerated on `exp` and `nbf` |
//! | `ZAYAVKI_ENV` | development | `production` refuses to start without a verification key |
//! | `RATE_LIMIT_PER_SECOND` | 100 | units refilled per person (or anonymous address) per second |
//! | `RATE_LIMIT_BURST` | 1000 | bucket size per person (or anonymous address); a full batch fits |
//! | `SERVICE_RATE_LIMIT_PER_SECOND` | 2000 | units refilled per `service` caller per second |
//! | `SERVICE_RATE_LIMIT_BURST` | 4000 | bucket size per `service` caller |
//! | `RATE_LIMIT_ENABLED` | true | `false` turns throttling off |
//!
//! # Wiring
//!
//! ```ignore
//! let (identity, development_key) = IdentityConfig::from_env()?.or_development_key()?;
//! let verifier = TokenVerifier::new(&identity)?;
//! let throttle = Throttle::new(ThrottleConfig::from_env()?)?;
//!
//! // gRPC: the first layer added runs first, so authentication precedes throttling.
//! tonic::transport::Server::builder()
//!     .layer(GrpcAuthLayer::new(verifier.clone()))
//!     .layer(tonic::service::InterceptorLayer::new(GrpcThrottle::new(throttle.clone())))
//!     .add_service(applications);
//!
//! // REST: the last layer added runs first.
//! let public = PublicPaths::exact(["/health", "/openapi.yml"]);
//! let app = Router::new()
//!     .route("/health", get(health))
//!     .route("/openapi.yml", get(openapi))
//!     .route("/api/v1/applications", post(create))
//!     .layer(from_fn_with_state(throttle.clone(), throttle_http))
//!     .layer(from_fn_with_state(
//!         HttpAuth::new(verifier).with_public_paths(public),
//!         authenticate_http,
//!     ));
//! axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>());
//! ```
//!
//! Tests that wait for a bucket to refill build the throttle with a [`ManualClock`]
//! (`ThrottleConfig { clock: manual.clone().into(), .. }`) and advance it instead of sleeping.

mod auth_error;
mod bearer;
mod claims;
mod config;
mod grpc_layer;
mod grpc_throttle;
mod http_auth;
mod http_extract;
mod http_throttle;
mod identity;
mod jwks;
mod keys;
mod minter;
mod public_paths;
mod role;
mod throttle;
mod token_cache;
mod verifier;
mod websocket;

pub use auth_error::{AuthError, REALM};
pub use bearer::bearer_token;
pub use claims::{Audience, Claims};
pub use config::{DEFAULT_LEEWAY_SECONDS, DevelopmentKey, IdentityConfig, MIN_SECRET_BYTES};
pub use grpc_layer::{GrpcAuth, GrpcAuthLayer, identity_from_request};
pub use grpc_throttle::GrpcThrottle;
pub use http_auth::{HttpAuth, authenticate_http};
pub use http_extract::Authenticated;
pub use http_throttle::throttle_http;
pub use identity::Identity;
pub use jsonwebtoken::Algorithm;
pub use minter::TokenMinter;
pub use public_paths::{DEFAULT_PUBLIC_GRPC_PREFIXES, PublicPaths};
pub use role::{Role, UnknownRole};
pub use throttle::{ManualClock, Throttle, ThrottleClock, ThrottleConfig, ThrottleKey, Throttled};
pub use verifier::TokenVerifier;
pub use websocket::{
    ACCESS_TOKEN_PARAMETER, BEARER_SUBPROTOCOL, WebSocketIdentity, WebSocketToken,
    authenticate_websocket, websocket_token,
};

//! Which request paths skip authentication.

use std::{fmt, sync::Arc};

/// A predicate over the request path. Public paths are served without a token; when one is
/// sent anyway and is valid, the identity is still attached (so throttling can use it).
#[derive(Clone)]
pub struct PublicPaths(Arc<dyn Fn(&str) -> bool + Send + Sync>);

/// gRPC health checking and server reflection: probes and tools call them without a token.
pub const DEFAULT_PUBLIC_GRPC_PREFIXES: [&str; 2] = ["/grpc.health.v1.", "/grpc.reflection."];

impl PublicPaths {
    pub fn new(predicate: impl Fn(&str) -> bool + Send + Sync + 'static) -> Self {
        Self(Arc::new(predicate))
    }

    /// Every path requires a token.
    pub fn none() -> Self {
        Self::new(|_| false)
    }

    /// Every path is public; handlers decide with [`crate::Authenticated`].
    pub fn all() -> Self {
        Self::new(|_| true)
    }

    /// Exactly these paths, e.g. `["/health", "/openapi.yml"]`.
    pub fn exact<I, P>(paths: I) -> Self
    where
        I: IntoIterator<Item = P>,
        P: Into<String>,
    {
        let paths: Vec<String> = paths.into_iter().map(Into::into).collect();
        Self::new(move |path| paths.iter().any(|public| public == path))
    }

    /// Paths starting with any of these prefixes.
    pub fn prefixes<I, P>(prefixes: I) -> Self
    where
        I: IntoIterator<Item = P>,
        P: Into<String>,
    {
        let prefixes: Vec<String> = prefixes.into_iter().map(Into::into).collect();
        Self::new(move |path| {
            prefixes
                .iter()
                .any(|prefix| path.starts_with(prefix.as_str()))
        })
    }

    /// Health checking and reflection (see [`DEFAULT_PUBLIC_GRPC_PREFIXES`]).
    pub fn grpc_defaults() -> Self {
        Self::prefixes(DEFAULT_PUBLIC_GRPC_PREFIXES)
    }

    /// Public when either predicate says so.
    pub fn or(self, other: PublicPaths) -> Self {
        Self::new(move |path| self.is_public(path) || other.is_public(path))
    }

    pub fn is_public(&self, path: &str) -> bool {
        (self.0)(path)
    }
}

impl fmt::Debug for PublicPaths {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("PublicPaths(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_defaults_cover_health_and_reflection_only() {
        let public = PublicPaths::grpc_defaults();

        assert!(public.is_public("/grpc.health.v1.Health/Check"));
        assert!(public.is_public("/grpc.reflection.v1.ServerReflection/ServerReflectionInfo"));
        assert!(!public.is_public("/zayavki.v1.Applications/Create"));
    }

    #[test]
    fn exact_paths_match_whole_paths_and_combine() {
        let public = PublicPaths::exact(["/health"]).or(PublicPaths::exact(["/openapi.yml"]));

        assert!(public.is_public("/health"));
        assert!(public.is_public("/openapi.yml"));
        assert!(!public.is_public("/health/deep"));
    }
}

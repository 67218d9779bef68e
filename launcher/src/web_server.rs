//! `zayavki web-server`: serves the web app's built files (`web/dist`) under `/app/`, where the
//! gateway sends `/app/…`. A path that is no file is one of the app's own routes and gets
//! `index.html`, so a deep link reloads; hashed assets are cached for a year, `index.html` never.

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
};

use anyhow::Context;
use axum::{
    Router,
    extract::Request,
    http::{HeaderValue, StatusCode, header},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::get,
};
use tokio::net::TcpListener;
use tower_http::services::{ServeDir, ServeFile};
use zayavki_common::{config::Variables, shutdown::CancellationToken, telemetry};

/// Where it listens unless `WEB_ADDR` says otherwise.
pub const DEFAULT_ADDRESS: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 8091);
/// The built app, relative to the working directory, unless `WEB_DIR` says otherwise.
pub const DEFAULT_DIR: &str = "web/dist";
/// The prefix the app is built for (Vite's `base`).
pub const PREFIX: &str = "/app";

/// What `zayavki web-server` reads.
pub fn variables() -> Variables {
    Variables::optional(&["WEB_ADDR", "WEB_DIR"]).and(telemetry::variables())
}

pub struct WebServer {
    listener: TcpListener,
    dir: PathBuf,
}

impl WebServer {
    pub async fn bind(address: SocketAddr, dir: PathBuf) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(address)
            .await
            .with_context(|| format!("cannot listen for the web app on {address}"))?;
        Ok(Self { listener, dir })
    }

    pub fn address(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        if !self.dir.join("index.html").is_file() {
            tracing::warn!(
                dir = %self.dir.display(),
                "the web app is not built: `npm --prefix web ci && npm --prefix web run build` \
                 (scripts/start does it)"
            );
        }
        tracing::info!(address = %self.address(), dir = %self.dir.display(), "web app served");
        axum::serve(self.listener, router(&self.dir))
            .with_graceful_shutdown(shutdown.cancelled_owned())
            .await
            .context("the web app's server stopped")
    }
}

fn router(dir: &Path) -> Router {
    let index = dir.join("index.html");
    let files = ServeDir::new(dir).fallback(ServeFile::new(&index));
    let missing = index.clone();
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(|| async { "ok" }))
        .nest_service(PREFIX, files)
        .layer(middleware::from_fn(move |request: Request, next: Next| {
            let built = missing.is_file();
            async move {
                if !built && request.uri().path().starts_with(PREFIX) {
                    return not_built();
                }
                caching(request.uri().path().to_owned(), next.run(request).await)
            }
        }))
}

fn not_built() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        "The web app is not built yet: run `npm --prefix web ci && npm --prefix web run build`.\n",
    )
        .into_response()
}

/// Vite names assets by their content: they never change under one name.
fn caching(path: String, mut response: Response) -> Response {
    let value = if path.starts_with("/app/assets/") && response.status().is_success() {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static(value));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn serve(dir: &Path) -> (SocketAddr, CancellationToken) {
        let server = WebServer::bind(
            "127.0.0.1:0".parse().expect("an address"),
            dir.to_path_buf(),
        )
        .await
        .expect("bound");
        let address = server.address();
        let stop = CancellationToken::new();
        tokio::spawn(server.run_until_stopped(stop.clone()));
        (address, stop)
    }

    #[tokio::test]
    async fn files_are_served_and_every_other_app_path_gets_the_index() {
        let dir = tempfile::tempdir().expect("temporary directory");
        std::fs::write(dir.path().join("index.html"), "<div id=root></div>").expect("as expected");
        std::fs::create_dir(dir.path().join("assets")).expect("as expected");
        std::fs::write(dir.path().join("assets/app-1a2b.js"), "console.log(1)")
            .expect("as expected");
        let (address, stop) = serve(dir.path()).await;
        let get = |path: &str| reqwest::get(format!("http://{address}{path}"));

        let asset = get("/app/assets/app-1a2b.js").await.expect("as expected");
        assert_eq!(asset.status(), 200);
        assert!(
            asset.headers()[header::CACHE_CONTROL]
                .to_str()
                .expect("as expected")
                .contains("immutable")
        );
        assert_eq!(asset.text().await.expect("as expected"), "console.log(1)");
        for route in [
            "/app/",
            "/app/applications/42",
            "/app/reports?from=2026-12-01",
        ] {
            let page = get(route).await.expect("as expected");
            assert_eq!(page.status(), 200, "{route}");
            assert_eq!(page.headers()[header::CACHE_CONTROL], "no-cache");
            assert_eq!(
                page.text().await.expect("as expected"),
                "<div id=root></div>",
                "{route}"
            );
        }
        assert_eq!(get("/readyz").await.expect("as expected").status(), 200);
        stop.cancel();
    }

    #[tokio::test]
    async fn an_unbuilt_app_says_how_to_build_it() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let (address, stop) = serve(dir.path()).await;

        let page = reqwest::get(format!("http://{address}/app/"))
            .await
            .expect("as expected");
        assert_eq!(page.status(), 503);
        assert!(
            page.text()
                .await
                .expect("as expected")
                .contains("npm --prefix web")
        );
        stop.cancel();
    }
}

//! `compose.yaml` (it cannot run here, so it is checked instead): valid by the Compose
//! specification's JSON schema (vendored in `tests/schemas/`, nothing is fetched), and every
//! service built from the Dockerfile runs a binary the image holds, sets only variables that
//! binary reads and every one it requires, and shares one token configuration with the others.

use std::{collections::BTreeMap, path::Path};

use serde_json::Value;
use zayavki_common::config::Variables;
use zayavki_identity::IdentityConfig;

const SCHEMA: &str = "tests/schemas/compose-spec.json";

#[test]
fn compose_file_is_valid_by_the_compose_specification() {
    let errors = schema_errors(&compose_file());

    assert!(errors.is_empty(), "compose.yaml:\n{}", errors.join("\n"));
}

#[test]
fn the_schema_check_refuses_what_compose_would_refuse() {
    let misspelled = parse("services:\n  web:\n    image: zayavki\n    helthcheck: {}\n");
    let wrong_type = parse("services:\n  web:\n    image: zayavki\n    ports: 8080\n");

    assert!(!schema_errors(&misspelled).is_empty(), "an unknown key");
    assert!(
        !schema_errors(&wrong_type).is_empty(),
        "ports that are no list"
    );
}

#[test]
fn every_service_sets_only_variables_its_binary_reads_and_all_it_requires() {
    let problems = variable_problems(&compose_file());

    assert!(
        problems.is_empty(),
        "compose.yaml:\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_variable_check_finds_unknown_and_missing_variables() {
    let compose = parse(
        "services:
  application-service:
    build: .
    command: [application-service]
    environment:
      DATABSE_URL: postgres://postgres@postgres/zayavki
  business-process:
    build: .
    command: [business-process]
    environment:
      - JWT_PUBLIC_KEY_FILE=/run/secrets/jwt.pem
  worker:
    build: .
    command: [worker]
",
    );

    let problems = variable_problems(&compose);

    assert_eq!(
        problems,
        [
            "application-service: application-service does not read DATABSE_URL",
            "business-process: business-process needs one of JWT_SECRET, JWT_PRIVATE_KEY_FILE",
            "worker: runs [\"worker\"], which is no binary of the image",
        ]
    );
}

#[test]
fn every_binary_the_services_run_is_built_into_the_image() {
    let dockerfile = std::fs::read_to_string(repository().join("Dockerfile")).expect("Dockerfile");

    for service in built_services(&compose_file()) {
        let program = service.command.first().expect("a command");
        assert!(
            dockerfile.contains(&format!("target/release/{program}")),
            "{}: the Dockerfile does not copy {program} into the image",
            service.name
        );
    }
}

#[test]
fn the_services_share_one_token_configuration() {
    let compose = compose_file();
    let services = built_services(&compose);
    let verifying: Vec<_> = services
        .iter()
        .filter(|service| {
            variables_of(&service.command).is_some_and(|variables| variables.reads("JWT_SECRET"))
        })
        .collect();
    let identity = |service: &Service| -> BTreeMap<String, Option<String>> {
        IdentityConfig::VARIABLES
            .iter()
            .map(|name| {
                (
                    (*name).to_owned(),
                    service.environment.get(*name).cloned().flatten(),
                )
            })
            .collect()
    };

    assert!(
        verifying.len() >= 3,
        "every service but the sink verifies tokens"
    );
    let first = identity(verifying[0]);
    assert!(
        first.get("JWT_SECRET").is_some_and(Option::is_some),
        "{} sets JWT_SECRET",
        verifying[0].name
    );
    for service in &verifying[1..] {
        assert_eq!(
            identity(service),
            first,
            "{} and {} configure tokens alike",
            service.name,
            verifying[0].name
        );
    }
}

#[test]
fn services_start_in_order_of_health_and_publish_ports_on_loopback_only() {
    let compose = compose_file();
    let services = compose["services"].as_object().expect("services");

    for (name, service) in services {
        assert!(
            service["healthcheck"]["test"].is_array(),
            "{name} has a health check"
        );
        for port in service["ports"].as_array().into_iter().flatten() {
            let port = port.as_str().expect("ports are written as strings");
            assert!(port.starts_with("127.0.0.1:"), "{name} publishes {port}");
        }
        for (dependency, condition) in service["depends_on"].as_object().into_iter().flatten() {
            assert_eq!(
                condition["condition"], "service_healthy",
                "{name} waits for {dependency} to be healthy"
            );
            assert!(
                services.contains_key(dependency),
                "{name} depends on {dependency}"
            );
        }
    }
    for service in built_services(&compose) {
        let depends_on = &services[&service.name]["depends_on"];
        if variables_of(&service.command).is_some_and(|variables| variables.reads("AMQP_URL")) {
            for needed in ["postgres", "rabbitmq"] {
                assert!(
                    depends_on.get(needed).is_some(),
                    "{} starts after {needed}",
                    service.name
                );
            }
        }
    }
}

/// A service built from the Dockerfile: what it runs and the environment compose gives it
/// (`None`: a variable passed through from the host unchanged).
struct Service {
    name: String,
    command: Vec<String>,
    environment: BTreeMap<String, Option<String>>,
}

/// The variables the program `command` runs reads, or `None` when the image has no such binary.
fn variables_of(command: &[String]) -> Option<Variables> {
    let command: Vec<&str> = command.iter().map(String::as_str).collect();
    match command.as_slice() {
        ["application-service"] | ["application-service", "serve"] => {
            Some(application_service::config::variables())
        }
        ["business-process"] => Some(business_process::config::variables()),
        ["report-service"] => Some(report_service::config::variables()),
        ["zayavki", "notification-sink"] => Some(business_process::notifier::sink_variables()),
        ["zayavki", "gateway"] => Some(zayavki::gateway::standalone::variables()),
        ["zayavki", "web-server"] => Some(zayavki::web_server::variables()),
        _ => None,
    }
}

/// Every way in which the services built from the Dockerfile are configured wrongly.
fn variable_problems(compose: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    for service in built_services(compose) {
        let name = &service.name;
        let Some(variables) = variables_of(&service.command) else {
            problems.push(format!(
                "{name}: runs {:?}, which is no binary of the image",
                service.command
            ));
            continue;
        };
        let program = service.command.join(" ");
        for variable in service.environment.keys() {
            if !variables.reads(variable) {
                problems.push(format!("{name}: {program} does not read {variable}"));
            }
        }
        for alternatives in variables.unmet(|variable| service.environment.contains_key(variable)) {
            let needs = match alternatives {
                [only] => (*only).to_owned(),
                _ => format!("one of {}", alternatives.join(", ")),
            };
            problems.push(format!("{name}: {program} needs {needs}"));
        }
    }
    problems
}

/// The services with a `build` section, in the file's order.
fn built_services(compose: &Value) -> Vec<Service> {
    let services = compose["services"].as_object().expect("services");
    services
        .iter()
        .filter(|(_, service)| service.get("build").is_some())
        .map(|(name, service)| Service {
            name: name.clone(),
            command: ["entrypoint", "command"]
                .iter()
                .flat_map(|key| strings(&service[*key]))
                .collect(),
            environment: environment(&service["environment"]),
        })
        .collect()
}

/// A service's `environment`, written as a mapping or as a list of `NAME=value` / `NAME`.
fn environment(section: &Value) -> BTreeMap<String, Option<String>> {
    match section {
        Value::Object(mapping) => mapping
            .iter()
            .map(|(name, value)| {
                let value = match value {
                    Value::Null => None,
                    Value::String(text) => Some(text.clone()),
                    other => Some(other.to_string()),
                };
                (name.clone(), value)
            })
            .collect(),
        Value::Array(_) => strings(section)
            .into_iter()
            .map(|entry| match entry.split_once('=') {
                Some((name, value)) => (name.to_owned(), Some(value.to_owned())),
                None => (entry, None),
            })
            .collect(),
        _ => BTreeMap::new(),
    }
}

/// A list of strings, or a single string (a shell command line, split on blanks).
fn strings(value: &Value) -> Vec<String> {
    match value {
        Value::Array(items) => items
            .iter()
            .map(|item| item.as_str().expect("a string").to_owned())
            .collect(),
        Value::String(line) => line.split_whitespace().map(str::to_owned).collect(),
        _ => Vec::new(),
    }
}

/// Each place where `compose` breaks the Compose specification, with its path.
fn schema_errors(compose: &Value) -> Vec<String> {
    let schema = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(SCHEMA))
        .expect("the vendored Compose schema");
    let schema: Value = serde_json::from_str(&schema).expect("the schema is JSON");
    let validator = jsonschema::draft7::new(&schema).expect("the schema compiles");
    validator
        .iter_errors(compose)
        .map(|error| format!("{}: {error}", error.instance_path()))
        .collect()
}

fn repository() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the launcher is inside the repository")
}

/// `compose.yaml` as Compose reads it: YAML with anchors and merge keys resolved.
fn compose_file() -> Value {
    let text = std::fs::read_to_string(repository().join("compose.yaml")).expect("compose.yaml");
    parse(&text)
}

fn parse(text: &str) -> Value {
    let mut yaml: serde_norway::Value = serde_norway::from_str(text).expect("valid YAML");
    yaml.apply_merge().expect("merge keys name mappings");
    serde_json::to_value(yaml).expect("YAML with string keys is JSON")
}

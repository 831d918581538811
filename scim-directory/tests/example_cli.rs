//! The `scim_server` example's command line (`examples/scim_server/cli.rs`,
//! compiled in here): help, defaults and environment, every `tenants`
//! command, and usage errors. `ci/scim2-tester.sh` runs the built binary
//! (exit codes, create then serve, a restart, PostgreSQL).

#[allow(dead_code)]
#[path = "../examples/scim_server/cli.rs"]
mod cli;

use std::path::PathBuf;
use std::time::Duration;

use cli::{parse, parse_duration, Command};

fn args(line: &str) -> Vec<String> {
    line.split_whitespace().map(str::to_string).collect()
}

fn no_env(_: &str) -> Option<String> {
    None
}

fn command(line: &str) -> Result<Command, String> {
    parse(&args(line), no_env).map(|c| c.command)
}

#[test]
fn help_is_asked_for_anywhere_and_starts_nothing() {
    for line in [
        "--help",
        "-h",
        "serve --port 1 --help",
        "tenants create acme -h",
        "--bogus --help",
    ] {
        assert_eq!(command(line), Ok(Command::Help), "{line}");
    }
    assert!(cli::USAGE.contains("tenants create"));
}

#[test]
fn serve_is_the_default_with_defaults_from_flags_then_environment() {
    let cli = parse(&[], no_env).unwrap();
    assert_eq!(cli.command, Command::Serve { url_file: None });
    assert_eq!(
        (cli.options.database.as_str(), cli.options.port),
        ("scim.sqlite", 8080)
    );
    let env = |var: &str| match var {
        "SCIM_DATABASE" => Some("postgres://db/x".to_string()),
        "SCIM_PORT" => Some("9000".to_string()),
        _ => None,
    };
    let cli = parse(&args("serve --port=0 --url-file u"), env).unwrap();
    assert_eq!(cli.options.database, "postgres://db/x");
    assert_eq!(cli.options.port, 0, "a flag wins over the environment");
    assert_eq!(
        cli.command,
        Command::Serve {
            url_file: Some(PathBuf::from("u"))
        }
    );
}

#[test]
fn every_tenants_command_parses() {
    let line = "--database d.sqlite tenants create acme --name Acme --token-file t";
    assert_eq!(
        command(line),
        Ok(Command::Create {
            id: "acme".into(),
            name: Some("Acme".into()),
            token_file: Some(PathBuf::from("t")),
        })
    );
    assert_eq!(command("tenants list"), Ok(Command::List));
    assert_eq!(
        command("tenants rotate acme --overlap 1h"),
        Ok(Command::Rotate {
            id: "acme".into(),
            overlap: Duration::from_secs(3600),
            token_file: None,
        })
    );
    assert_eq!(
        command("tenants rotate acme"),
        Ok(Command::Rotate {
            id: "acme".into(),
            overlap: Duration::ZERO,
            token_file: None,
        })
    );
    for (verb, want) in [
        ("revoke", Command::Revoke { id: "acme".into() }),
        ("suspend", Command::Suspend { id: "acme".into() }),
        ("resume", Command::Resume { id: "acme".into() }),
        ("delete", Command::Delete { id: "acme".into() }),
    ] {
        assert_eq!(command(&format!("tenants {verb} acme")), Ok(want));
    }
}

#[test]
fn unknown_or_misplaced_input_is_a_usage_error_naming_it() {
    for (line, names) in [
        ("--tenant acme", "--tenant"),
        ("serve --bogus", "--bogus"),
        ("tenants", "needs a command"),
        ("tenants frobnicate acme", "frobnicate"),
        ("tenants create", "needs a tenant id"),
        ("tenants create a b", "one tenant id"),
        ("tenants list acme", "no tenant id"),
        ("serve --overlap 1h", "--overlap"),
        ("tenants create acme --overlap 1h", "--overlap"),
        ("tenants revoke acme --token-file t", "--token-file"),
        ("tenants rotate acme --overlap soon", "soon"),
        ("--port http", "http"),
        ("--port", "needs a value"),
        ("--port 1 --port 2", "twice"),
        ("start", "start"),
    ] {
        let err = command(line).unwrap_err();
        assert!(err.contains(names), "{line}: {err}");
    }
}

#[test]
fn database_connections_are_a_positive_number_from_flag_or_environment() {
    let cli = parse(&[], no_env).unwrap();
    assert_eq!(cli.options.db_connections, None, "the store's default");
    let cli = parse(&args("serve --db-connections 4"), no_env).unwrap();
    assert_eq!(cli.options.db_connections, Some(4));
    let env = |var: &str| (var == "SCIM_DB_CONNECTIONS").then(|| "6".to_string());
    assert_eq!(parse(&[], env).unwrap().options.db_connections, Some(6));
    for bad in ["0", "-1", "many"] {
        let err = parse(&args(&format!("--db-connections={bad}")), no_env).unwrap_err();
        assert!(
            err.contains("--db-connections") && err.contains(bad),
            "{err}"
        );
    }
}

#[test]
fn durations_take_seconds_minutes_hours_and_days() {
    assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
    assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
    assert_eq!(parse_duration("30m"), Ok(Duration::from_secs(1800)));
    assert_eq!(parse_duration("2d"), Ok(Duration::from_secs(172_800)));
    for bad in ["", "h", "1", "1w", "-1h", "1.5h", "99999999999999999999d"] {
        assert!(parse_duration(bad).is_err(), "{bad}");
    }
}

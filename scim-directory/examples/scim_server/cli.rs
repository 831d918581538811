//! The command line of `scim_server`: parsed by hand into a [`Cli`], with
//! no I/O, so `tests/example_cli.rs` checks it without starting anything.

use std::path::PathBuf;
use std::time::Duration;

/// What `--help` prints (and a usage error after its message).
pub const USAGE: &str = "\
Usage: scim_server [OPTIONS] [serve] [--url-file FILE]
       scim_server [OPTIONS] tenants create <ID> [--name NAME] [--token-file FILE]
       scim_server [OPTIONS] tenants list
       scim_server [OPTIONS] tenants rotate <ID> [--overlap DURATION] [--token-file FILE]
       scim_server [OPTIONS] tenants revoke|suspend|resume|delete <ID>

Serves SCIM 2.0 on 127.0.0.1 for the tenants in the database, or
administers them. A tenant is created only by `tenants create`, which shows
its endpoint and token once; `serve` (the default) keeps every tenant and
token across restarts.

Options:
  --database DB       a SQLite file (created mode 0600) or postgres://... (the
                      `postgres` feature); default scim.sqlite [env SCIM_DATABASE]
  --schema NAME       with PostgreSQL: the tables in this schema (created if
                      missing) [env SCIM_SCHEMA]
  --db-connections N  with PostgreSQL: at most N connections from this
                      server; default 10. All servers' together: a few per
                      core of the database, no more [env SCIM_DB_CONNECTIONS]
  --port N            port to listen on, 0 for a free one; default 8080 [env SCIM_PORT]
  --public-url URL    origin the IdP reaches the server at (in endpoints);
                      default http://127.0.0.1:PORT [env SCIM_PUBLIC_URL]
  --url-file FILE     serve: write the endpoint prefix (URL/scim/v2) to FILE once listening
  --name NAME         tenants create: a display name (default: the id)
  --token-file FILE   tenants create/rotate: write the token to FILE (mode 0600)
                      and the endpoint to FILE.url instead of printing the token
  --overlap DURATION  tenants rotate: the old token keeps working this long
                      (e.g. 90s, 30m, 1h, 2d; default 0: it stops at once)
  -h, --help          print this and exit

Environment:
  RUST_LOG            serve: what is logged to stderr; default
                      scim_directory=info (one line per request: tenant,
                      method, path, status, latency; never a token, a body or
                      a query string), e.g. RUST_LOG=warn for errors only

Exit status: 0 on success, 1 on failure, 2 on a usage error.";

/// Where the server keeps its data and how it is reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// A SQLite path or a `postgres://` URL.
    pub database: String,
    /// The PostgreSQL schema, if any.
    pub schema: Option<String>,
    /// The most PostgreSQL connections the server opens, if not the
    /// store's default.
    pub db_connections: Option<u32>,
    /// The port to listen on.
    pub port: u16,
    /// The public origin, if not `http://127.0.0.1:PORT`.
    pub public_url: Option<String>,
}

/// What to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Print the usage.
    Help,
    /// Serve every tenant.
    Serve { url_file: Option<PathBuf> },
    /// Create a tenant and show its endpoint and token once.
    Create {
        id: String,
        name: Option<String>,
        token_file: Option<PathBuf>,
    },
    /// List the tenants.
    List,
    /// Issue a new token; the old one works for `overlap`.
    Rotate {
        id: String,
        overlap: Duration,
        token_file: Option<PathBuf>,
    },
    /// Revoke every token of a tenant.
    Revoke { id: String },
    /// Suspend a tenant.
    Suspend { id: String },
    /// Resume a tenant.
    Resume { id: String },
    /// Delete a tenant and all its data.
    Delete { id: String },
}

/// A parsed command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cli {
    pub options: Options,
    pub command: Command,
}

/// Flags taking a value, and the commands that accept each (empty: all).
const FLAGS: &[(&str, &[&str])] = &[
    ("--database", &[]),
    ("--schema", &[]),
    ("--db-connections", &[]),
    ("--port", &[]),
    ("--public-url", &[]),
    ("--url-file", &["serve"]),
    ("--name", &["create"]),
    ("--token-file", &["create", "rotate"]),
    ("--overlap", &["rotate"]),
];

/// Parses `args` (without the program name); `env` reads an environment
/// variable. The error is the message of a usage error.
pub fn parse(args: &[String], env: impl Fn(&str) -> Option<String>) -> Result<Cli, String> {
    if args.iter().any(|a| a == "-h" || a == "--help") {
        return Ok(help());
    }
    let mut flags: Vec<(&str, String)> = Vec::new();
    let mut words: Vec<&str> = Vec::new();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n, Some(v.to_string())),
            _ => (arg.as_str(), None),
        };
        if !name.starts_with('-') {
            words.push(arg);
            continue;
        }
        let Some((flag, _)) = FLAGS.iter().find(|(f, _)| *f == name) else {
            return Err(format!("unknown option `{name}`"));
        };
        let value = match inline {
            Some(v) => v,
            None => it
                .next()
                .cloned()
                .ok_or(format!("`{flag}` needs a value"))?,
        };
        if flags.iter().any(|(f, _)| f == flag) {
            return Err(format!("`{flag}` is given twice"));
        }
        flags.push((flag, value));
    }
    let command = command(&words, &mut flags)?;
    let options = options(&mut flags, &env)?;
    Ok(Cli { options, command })
}

fn help() -> Cli {
    Cli {
        options: Options {
            database: String::new(),
            schema: None,
            db_connections: None,
            port: 0,
            public_url: None,
        },
        command: Command::Help,
    }
}

/// Takes flag `name` out of `flags`.
fn take(flags: &mut Vec<(&str, String)>, name: &str) -> Option<String> {
    let i = flags.iter().position(|(f, _)| *f == name)?;
    Some(flags.remove(i).1)
}

fn command(words: &[&str], flags: &mut Vec<(&str, String)>) -> Result<Command, String> {
    let verb = match words {
        [] | ["serve"] => "serve",
        ["tenants"] => return Err(
            "`tenants` needs a command: create, list, rotate, revoke, suspend, resume or delete"
                .into(),
        ),
        ["tenants", verb, ..] => verb,
        [other, ..] => return Err(format!("unknown command `{other}`")),
    };
    for (flag, commands) in FLAGS {
        let allowed = commands.is_empty() || commands.contains(&verb);
        if !allowed && flags.iter().any(|(f, _)| f == flag) {
            return Err(format!("`{flag}` does not apply to `{verb}`"));
        }
    }
    let id = || match words {
        [_, _, id] => Ok(id.to_string()),
        [_, _] => Err(format!("`tenants {verb}` needs a tenant id")),
        _ => Err(format!("`tenants {verb}` takes one tenant id")),
    };
    Ok(match verb {
        "serve" if words.len() <= 1 => Command::Serve {
            url_file: take(flags, "--url-file").map(PathBuf::from),
        },
        "create" => Command::Create {
            id: id()?,
            name: take(flags, "--name"),
            token_file: take(flags, "--token-file").map(PathBuf::from),
        },
        "list" if words.len() == 2 => Command::List,
        "list" => return Err("`tenants list` takes no tenant id".into()),
        "rotate" => Command::Rotate {
            id: id()?,
            overlap: take(flags, "--overlap")
                .map(|d| parse_duration(&d))
                .transpose()?
                .unwrap_or(Duration::ZERO),
            token_file: take(flags, "--token-file").map(PathBuf::from),
        },
        "revoke" => Command::Revoke { id: id()? },
        "suspend" => Command::Suspend { id: id()? },
        "resume" => Command::Resume { id: id()? },
        "delete" => Command::Delete { id: id()? },
        other => return Err(format!("unknown command `tenants {other}`")),
    })
}

fn options(
    flags: &mut Vec<(&str, String)>,
    env: &impl Fn(&str) -> Option<String>,
) -> Result<Options, String> {
    let mut get = |flag: &str, var: &str| take(flags, flag).or_else(|| env(var));
    let port = get("--port", "SCIM_PORT").unwrap_or_else(|| "8080".into());
    let db_connections = get("--db-connections", "SCIM_DB_CONNECTIONS")
        .map(|n| match n.parse::<u32>() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err(format!(
                "--db-connections: `{n}` is not a number of connections (1 or more)"
            )),
        })
        .transpose()?;
    Ok(Options {
        database: get("--database", "SCIM_DATABASE").unwrap_or_else(|| "scim.sqlite".into()),
        schema: get("--schema", "SCIM_SCHEMA"),
        db_connections,
        port: port
            .parse()
            .map_err(|_| format!("--port: `{port}` is not a port number"))?,
        public_url: get("--public-url", "SCIM_PUBLIC_URL"),
    })
}

/// `90s`, `30m`, `1h`, `2d`, or `0`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let bad = || format!("--overlap: `{s}` is not a duration like 90s, 30m, 1h or 2d");
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    let split = s.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
    let (n, unit) = s.split_at(split);
    let n: u64 = n.parse().map_err(|_| bad())?;
    let secs = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(bad()),
    };
    n.checked_mul(secs).map(Duration::from_secs).ok_or_else(bad)
}

//! The deployment files: `Dockerfile`, `.dockerignore`, `docker-compose.yml`
//! and `.env.example`. No container engine runs where the tests run, so they
//! are proven two ways: parsed and held to what Keeper needs (the shards
//! covered once, only variables Keeper reads, a non-root image running the
//! binary its builder built, a build context cargo accepts), and the compose
//! file's Keeper processes run as plain processes, with the arguments and
//! settings the file gives them, against the simulator and one PostgreSQL
//! database.

mod common;

use std::{
    collections::{BTreeMap, BTreeSet},
    net::SocketAddr,
    path::{Path, PathBuf},
    time::Duration,
};

use clap::Parser;
use common::{Backend, KeeperProcess};
use discord_sim::{Sim, SimConfig, load::ExpectedXp};
use keeper::config::ShardRange;
use serde_norway::Value;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn read(name: &str) -> String {
    std::fs::read_to_string(Path::new(ROOT).join(name))
        .unwrap_or_else(|err| panic!("reading {name}: {err}"))
}

// --- docker-compose.yml -------------------------------------------------------

/// docker-compose.yml, with its `<<: *keeper` merges applied as compose
/// applies them (a service's own keys win).
fn compose() -> Value {
    let mut doc: Value =
        serde_norway::from_str(&read("docker-compose.yml")).expect("docker-compose.yml is YAML");
    doc.apply_merge().expect("docker-compose.yml's merge keys");
    doc
}

fn services(doc: &Value) -> Vec<(String, &Value)> {
    doc.get("services")
        .and_then(Value::as_mapping)
        .expect("docker-compose.yml has services")
        .iter()
        .map(|(name, spec)| (scalar(name), spec))
        .collect()
}

/// A YAML scalar as compose reads it into a string (`8`, `true`, `json`).
fn scalar(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        other => panic!("expected a scalar, found {other:?}"),
    }
}

/// One of the compose file's Keeper processes: what the container runs.
struct KeeperService {
    name: String,
    /// The arguments after the entrypoint (the binary): `command:`, or the
    /// image's CMD.
    args: Vec<String>,
    /// `environment:` (not `env_file:`, the operator's `.env`).
    env: BTreeMap<String, String>,
    spec: Value,
}

/// The services that run Keeper: those built from this repository, and those
/// running the image such a service builds.
fn keeper_services(doc: &Value) -> Vec<KeeperService> {
    let built: BTreeSet<String> = services(doc)
        .iter()
        .filter(|(_, spec)| spec.get("build").is_some())
        .filter_map(|(_, spec)| spec.get("image").map(scalar))
        .collect();
    let keepers: Vec<KeeperService> = services(doc)
        .into_iter()
        .filter(|(_, spec)| {
            spec.get("build").is_some()
                || spec
                    .get("image")
                    .is_some_and(|i| built.contains(&scalar(i)))
        })
        .map(|(name, spec)| {
            // The arguments below are the binary's only while the image's
            // ENTRYPOINT (the binary, `dockerfile_runs_the_binary_as_non_root`)
            // stands.
            assert!(
                spec.get("entrypoint").is_none(),
                "{name} replaces the image's entrypoint, the keeper binary"
            );
            KeeperService {
                args: match spec.get("command") {
                    None => exec_form(final_stage(&dockerfile()).last("CMD").expect("a CMD")),
                    Some(Value::Sequence(args)) => args.iter().map(scalar).collect(),
                    // Compose splits a string command as a shell would; no
                    // quoting is expected in these.
                    Some(command) => scalar(command)
                        .split_whitespace()
                        .map(str::to_owned)
                        .collect(),
                },
                env: environment(&name, spec),
                spec: spec.clone(),
                name,
            }
        })
        .collect();
    assert!(
        !keepers.is_empty(),
        "no service of docker-compose.yml builds this repository's image"
    );
    keepers
}

/// `environment:`, in either of compose's forms (a map, or `KEY=value` lines).
fn environment(service: &str, spec: &Value) -> BTreeMap<String, String> {
    string_map(service, "environment", spec.get("environment"))
}

/// A compose map of strings (`environment:`, `build: args:`): a map, or a list
/// of `KEY=value` lines.
fn string_map(service: &str, what: &str, value: Option<&Value>) -> BTreeMap<String, String> {
    // `KEY` without a value is taken from the shell running compose.
    let passthrough = |key: &str| -> (String, String) {
        panic!(
            "{service}: {what} {key} takes its value from the shell running compose; set it \
             in the file or in .env (env_file), so that what runs is written down"
        )
    };
    match value {
        None => BTreeMap::new(),
        Some(Value::Mapping(vars)) => vars
            .iter()
            .map(|(k, v)| match v {
                Value::Null => passthrough(&scalar(k)),
                v => (scalar(k), scalar(v)),
            })
            .collect(),
        Some(Value::Sequence(lines)) => lines
            .iter()
            .map(|line| {
                let line = scalar(line);
                match line.split_once('=') {
                    Some((k, v)) => (k.to_owned(), v.to_owned()),
                    None => passthrough(&line),
                }
            })
            .collect(),
        Some(other) => panic!("{service}: {what} is neither a map nor a list: {other:?}"),
    }
}

/// The shards a service's process runs, and the total, as Keeper's own parser
/// reads them: from its arguments, the environment filling in a flag they do
/// not give (clap's rule: a flag wins over its variable). Arguments Keeper
/// would refuse fail here.
fn shard_slice(service: &KeeperService) -> (ShardRange, u32) {
    let mut argv = vec!["keeper".to_owned()];
    argv.extend(service.args.iter().cloned());
    for (flag, var) in [
        ("--shards", "KEEPER_SHARDS"),
        ("--total-shards", "KEEPER_TOTAL_SHARDS"),
    ] {
        let given = service
            .args
            .iter()
            .any(|a| a == flag || a.starts_with(&format!("{flag}=")));
        if let (false, Some(value)) = (given, service.env.get(var)) {
            argv.push(format!("{flag}={value}"));
        }
    }
    let config = keeper::config::Config::try_parse_from(&argv)
        .unwrap_or_else(|err| panic!("{}: keeper refuses {argv:?}: {err}", service.name));
    let range = config.discord.shards.unwrap_or_else(|| {
        panic!(
            "{} gives no --shards (KEEPER_SHARDS): it would run every shard",
            service.name
        )
    });
    let total = config.discord.total_shards.unwrap_or_else(|| {
        panic!(
            "{} gives no --total-shards (KEEPER_TOTAL_SHARDS): processes that each take \
             Discord's recommendation may disagree",
            service.name
        )
    });
    (range, total)
}

/// The shard total every Keeper process of the compose file uses; panics when
/// they disagree.
fn agreed_total(slices: &[(String, ShardRange, u32)]) -> u32 {
    let total = slices[0].2;
    for (name, _, t) in slices {
        assert_eq!(
            *t, total,
            "{name} runs with {t} shards in total, {} with {total}: a shard of one is not \
             the same shard of the other",
            slices[0].0
        );
    }
    total
}

/// Every shard must run in exactly one process: a shard no process runs loses
/// its guilds' events, and one run twice has two sessions fighting over it
/// (and would award XP twice). The ranges are read with Keeper's own parser.
#[test]
fn compose_file_slices_cover_every_shard_once() {
    let keepers = keeper_services(&compose());
    assert!(
        keepers.len() >= 2,
        "the compose file is the several-process layout; it runs {} Keeper service(s)",
        keepers.len()
    );
    let slices = slices_of(&keepers);
    let total = agreed_total(&slices);
    let mut runners: Vec<Vec<&str>> = vec![Vec::new(); total as usize];
    for (name, range, _) in &slices {
        range
            .within(total)
            .unwrap_or_else(|err| panic!("{name}: {err}"));
        for shard in range.first..=range.last {
            runners[shard as usize].push(name);
        }
    }
    let wrong: Vec<String> = runners
        .iter()
        .enumerate()
        .filter(|(_, by)| by.len() != 1)
        .map(|(shard, by)| format!("shard {shard} of {total} is run by {by:?}"))
        .collect();
    assert!(
        wrong.is_empty(),
        "each shard must be run by exactly one process:\n{}",
        wrong.join("\n")
    );
}

/// `keeper` with `args`, nothing inherited, in an empty directory (no `.env`).
fn keeper_output(args: &[&str]) -> String {
    let dir = std::env::temp_dir().join(format!(
        "keeper-deploy-{}-{}",
        std::process::id(),
        common::unique()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_keeper"))
        .args(args)
        .current_dir(&dir)
        .env_clear()
        .output()
        .expect("run keeper");
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        out.status.success(),
        "keeper {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("help is UTF-8")
}

/// The subcommands listed in `keeper --help`: clap's `Commands:` section, one
/// `  name  description` line each (a description too long for the width
/// continues on lines indented further).
fn subcommands(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|line| line.trim_end() != "Commands:")
        .skip(1)
        .take_while(|line| !line.trim().is_empty())
        .filter(|line| line.starts_with("  ") && !line.starts_with("   "))
        .filter_map(|line| line.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_owned)
        .collect()
}

/// The variables of clap's `[env: NAME=value]` notes: `[env: NAME]` when the
/// value is hidden (DISCORD_TOKEN). Whitespace is normalised first, so a note
/// clap wrapped after `env:` still reads.
fn env_notes(help: &str) -> BTreeSet<String> {
    let text = help.split_whitespace().collect::<Vec<_>>().join(" ");
    text.split("[env: ")
        .skip(1)
        .map(|rest| {
            rest.chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect::<String>()
        })
        .filter(|name| !name.is_empty())
        .collect()
}

/// Every environment variable the binary reads, as its help states them: the
/// top level's and each subcommand's.
fn variables_keeper_reads() -> BTreeSet<String> {
    let top = keeper_output(&["--help"]);
    let subcommands = subcommands(&top);
    // The parsing above reads what it should (and fails when clap's layout changes).
    for expected in ["run", "backup", "restore"] {
        assert!(
            subcommands.iter().any(|s| s == expected),
            "`{expected}` not found among the subcommands of `keeper --help`: {subcommands:?}"
        );
    }
    let mut names = env_notes(&top);
    for sub in &subcommands {
        names.extend(env_notes(&keeper_output(&[sub, "--help"])));
    }
    for expected in ["DATABASE_URL", "DISCORD_TOKEN", "KEEPER_SHARDS"] {
        assert!(
            names.contains(expected),
            "{expected} not found in keeper's help: {names:?}"
        );
    }
    names
}

/// The variables `.env.example` sets, commented out or not: its commented
/// lines are defaults meant to be uncommented.
fn env_example_keys() -> Vec<String> {
    read(".env.example")
        .lines()
        .filter_map(|line| {
            let (key, _) = line.trim_start_matches('#').trim().split_once('=')?;
            let is_name = key.starts_with(|c: char| c.is_ascii_uppercase())
                && key
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
            is_name.then(|| key.to_owned())
        })
        .collect()
}

/// The variables sqlx's macros read at compile time (each store crate's
/// `sqlx.toml`: `database-url-var`), which `.env.example` documents for
/// developers but the binary never reads.
fn build_time_variables() -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for entry in std::fs::read_dir(Path::new(ROOT).join("crates")).unwrap() {
        let Ok(toml) = std::fs::read_to_string(entry.unwrap().path().join("sqlx.toml")) else {
            continue;
        };
        for line in toml.lines() {
            if let Some((key, value)) = line.split_once('=')
                && key.trim() == "database-url-var"
            {
                names.insert(value.trim().trim_matches('"').to_owned());
            }
        }
    }
    assert!(
        !names.is_empty(),
        "no crates/*/sqlx.toml names its variable"
    );
    names
}

/// The `${NAME...}` the compose file interpolates (not `$${...}`, which is a
/// `$` for the container's shell).
fn interpolated(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut rest = text;
    while let Some(at) = rest.find("${") {
        let escaped = rest[..at].ends_with('$');
        let name: String = rest[at + 2..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if !escaped && !name.is_empty() {
            names.insert(name);
        }
        rest = &rest[at + 2..];
    }
    names
}

/// How long a compose duration (`20s`, `1m30s`) is.
fn compose_duration(text: &str) -> Duration {
    let mut total = Duration::ZERO;
    let mut number = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let n: u64 = number.parse().expect("a number before each unit");
        number.clear();
        total += match c {
            'h' => Duration::from_secs(n * 3600),
            'm' => Duration::from_secs(n * 60),
            's' => Duration::from_secs(n),
            _ => panic!("unknown unit in the duration {text}"),
        };
    }
    assert!(number.is_empty(), "no unit at the end of {text}");
    total
}

/// A setting Keeper does not read is a typo or a leftover, and silently does
/// nothing (KEEPER_SHARD=0-1 would run every shard): every variable the compose
/// file sets on a Keeper service, and every one `.env.example` offers, must be
/// one `keeper --help` (or a subcommand's) lists. The same test holds the
/// services to what the layout relies on: health checks on Keeper and
/// PostgreSQL, Keeper starting once PostgreSQL is healthy, JSON logs, a
/// restart policy that gives up on a configuration error, time to stop
/// cleanly, and the image built from this repository's Dockerfile.
#[test]
fn compose_sets_only_variables_keeper_reads() {
    let reads = variables_keeper_reads();
    let doc = compose();
    let keepers = keeper_services(&doc);

    for keeper in &keepers {
        let unknown: Vec<&String> = keeper.env.keys().filter(|k| !reads.contains(*k)).collect();
        assert!(
            unknown.is_empty(),
            "{} sets {unknown:?}, which keeper does not read (it reads {reads:?})",
            keeper.name
        );
    }

    let keys = env_example_keys();
    for required in ["DISCORD_TOKEN", "POSTGRES_PASSWORD"] {
        assert!(
            keys.iter().any(|k| k == required),
            ".env.example does not offer {required}"
        );
    }
    let build_time = build_time_variables();
    let unknown: Vec<&String> = keys
        .iter()
        // POSTGRES_*: the compose file's PostgreSQL container reads them.
        .filter(|k| !k.starts_with("POSTGRES_") && !build_time.contains(*k))
        .filter(|k| !reads.contains(*k))
        .collect();
    assert!(
        unknown.is_empty(),
        ".env.example offers {unknown:?}, which keeper does not read (it reads {reads:?})"
    );
    // What the compose file takes from .env is explained there.
    let text = read("docker-compose.yml");
    for name in interpolated(&text) {
        assert!(
            keys.contains(&name),
            "docker-compose.yml uses ${{{name}}}, which .env.example does not explain"
        );
    }

    // The database every process shares is the compose file's PostgreSQL.
    let all = services(&doc);
    let database_hosts: BTreeSet<String> = keepers
        .iter()
        .map(|k| {
            let url = k.env.get("DATABASE_URL").unwrap_or_else(|| {
                panic!(
                    "{}: no DATABASE_URL: each process would have its own SQLite file",
                    k.name
                )
            });
            assert!(url.starts_with("postgres://"), "{}: {url}", k.name);
            let authority = url["postgres://".len()..].split('/').next().unwrap();
            let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
            host.split(':').next().unwrap().to_owned()
        })
        .collect();
    assert_eq!(database_hosts.len(), 1, "one database: {database_hosts:?}");
    let postgres_name = database_hosts.into_iter().next().unwrap();
    let postgres = all
        .iter()
        .find(|(name, _)| *name == postgres_name)
        .map(|(_, spec)| *spec)
        .unwrap_or_else(|| panic!("DATABASE_URL names {postgres_name}, not a service"));
    assert!(
        postgres
            .get("image")
            .map(scalar)
            .is_some_and(|i| i.starts_with("postgres:")),
        "{postgres_name} is not the postgres image"
    );
    let healthcheck = |name: &str, spec: &Value| -> String {
        let check = spec
            .get("healthcheck")
            .unwrap_or_else(|| panic!("{name} has no healthcheck"));
        assert!(
            check.get("disable").is_none_or(|d| d != &Value::Bool(true)),
            "{name}'s healthcheck is disabled"
        );
        match check.get("test") {
            Some(Value::Sequence(test)) => test.iter().map(scalar).collect::<Vec<_>>().join(" "),
            Some(test) => scalar(test),
            None => panic!("{name}'s healthcheck has no test"),
        }
    };
    let test = healthcheck(&postgres_name, postgres);
    assert!(test.contains("pg_isready"), "{postgres_name}: {test}");

    for keeper in &keepers {
        let name = &keeper.name;
        let spec = &keeper.spec;
        let test = healthcheck(name, spec);
        assert!(test.contains("/healthz"), "{name}'s healthcheck: {test}");
        // ... on the port the service's HTTP server listens on.
        let http = keeper.env.get("KEEPER_HTTP_ADDR").unwrap_or_else(|| {
            panic!("{name}: no KEEPER_HTTP_ADDR, so nothing answers its healthcheck")
        });
        let port = http.rsplit(':').next().unwrap();
        assert!(
            test.contains(&format!(":{port}/healthz")),
            "{name}'s healthcheck asks another port than KEEPER_HTTP_ADDR {http}: {test}"
        );

        // Keeper gives up after KEEPER_PG_CONNECT_ATTEMPTS (~30 s): it starts
        // once PostgreSQL answers, not merely once its container started.
        let condition = spec
            .get("depends_on")
            .and_then(|d| d.get(postgres_name.as_str()))
            .and_then(|d| d.get("condition"))
            .map(scalar);
        assert_eq!(
            condition.as_deref(),
            Some("service_healthy"),
            "{name} must depend on {postgres_name} with condition service_healthy"
        );

        assert_eq!(
            keeper.env.get("KEEPER_LOG_FORMAT").map(String::as_str),
            Some("json"),
            "{name}: logs for a log shipper"
        );

        // Exit code 2 (src/error.rs) is a configuration an operator must fix:
        // a policy that restarts whatever the code (`always`, `unless-stopped`)
        // would retry it forever. `on-failure` with a bound is what compose has.
        let restart = spec.get("restart").map(scalar);
        let swarm = spec
            .get("deploy")
            .and_then(|d| d.get("restart_policy"))
            .map(|p| {
                (
                    p.get("condition").map(scalar),
                    p.get("max_attempts").map(scalar),
                )
            });
        let bounded = match (restart.as_deref(), swarm) {
            (Some(r), _) => r
                .strip_prefix("on-failure:")
                .is_some_and(|n| n.parse::<u32>().is_ok_and(|n| n > 0)),
            (None, Some((Some(condition), Some(attempts)))) => {
                condition == "on-failure" && attempts.parse::<u32>().is_ok_and(|n| n > 0)
            }
            _ => false,
        };
        assert!(
            bounded,
            "{name}: restart on failure a bounded number of times, found restart: {restart:?}"
        );

        // Keeper takes up to 10 s after SIGTERM to write what it holds;
        // compose's default grace before SIGKILL is exactly 10 s.
        let grace = spec
            .get("stop_grace_period")
            .map_or(Duration::from_secs(10), |g| compose_duration(&scalar(g)));
        assert!(
            grace > Duration::from_secs(10),
            "{name}: stop_grace_period {grace:?} leaves no margin over Keeper's 10 s"
        );

        // Built from this repository's Dockerfile.
        let built = all
            .iter()
            .filter(|(_, s)| s.get("image") == spec.get("image"))
            .find_map(|(_, s)| s.get("build"))
            .unwrap_or_else(|| panic!("{name}: no service builds its image"));
        let (context, file) = match built {
            Value::Mapping(_) => (
                built.get("context").map_or(".".to_owned(), scalar),
                built
                    .get("dockerfile")
                    .map_or("Dockerfile".to_owned(), scalar),
            ),
            context => (scalar(context), "Dockerfile".to_owned()),
        };
        assert_eq!(
            Path::new(ROOT)
                .join(&context)
                .join(&file)
                .canonicalize()
                .ok(),
            Path::new(ROOT).join("Dockerfile").canonicalize().ok(),
            "{name} builds {context}/{file}"
        );
    }
}

// --- Dockerfile ------------------------------------------------------------------

/// One instruction: its keyword in capitals and the rest of its line(s).
struct Instruction {
    keyword: String,
    args: String,
}

/// One stage: `FROM base [AS name]` and what follows it.
struct Stage {
    base: String,
    name: Option<String>,
    steps: Vec<Instruction>,
}

impl Stage {
    fn all<'a>(&'a self, keyword: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.steps
            .iter()
            .filter(move |i| i.keyword == keyword)
            .map(|i| i.args.as_str())
    }

    fn last<'a>(&'a self, keyword: &'a str) -> Option<&'a str> {
        self.all(keyword).last()
    }

    fn position(&self, matches: impl Fn(&Instruction) -> bool) -> Option<usize> {
        self.steps.iter().position(matches)
    }

    /// `ENV` pairs, in order (`ENV A=1 B=2`, or the old `ENV A 1`).
    fn env(&self) -> Vec<(String, String)> {
        self.all("ENV").flat_map(env_pairs).collect()
    }

    fn env_value(&self, key: &str) -> Option<String> {
        self.env()
            .into_iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v)
            .next_back()
    }
}

fn env_pairs(args: &str) -> Vec<(String, String)> {
    let tokens: Vec<&str> = args.split_whitespace().collect();
    if tokens.first().is_some_and(|t| t.contains('=')) {
        tokens
            .iter()
            .filter_map(|t| t.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.trim_matches('"').to_owned()))
            .collect()
    } else {
        vec![(tokens[0].to_owned(), tokens[1..].join(" "))]
    }
}

/// The Dockerfile's stages. Line-based, as Docker reads it: a trailing `\`
/// continues an instruction, and lines starting with `#` are comments (parser
/// directives too), dropped even inside a continued instruction.
fn dockerfile() -> Vec<Stage> {
    let text = read("Dockerfile");
    let mut lines = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match line.strip_suffix('\\') {
            Some(part) => {
                current.push_str(part);
                current.push(' ');
            }
            None => {
                current.push_str(line);
                lines.push(std::mem::take(&mut current));
            }
        }
    }
    assert!(
        current.is_empty(),
        "the Dockerfile ends inside a continued instruction"
    );
    let mut stages: Vec<Stage> = Vec::new();
    for line in lines {
        let (keyword, args) = line.split_once(char::is_whitespace).unwrap_or((&line, ""));
        let (keyword, args) = (keyword.to_ascii_uppercase(), args.trim().to_owned());
        if keyword == "FROM" {
            let tokens: Vec<&str> = args
                .split_whitespace()
                .filter(|t| !t.starts_with("--"))
                .collect();
            let name = match tokens.as_slice() {
                [_, as_, name] if as_.eq_ignore_ascii_case("as") => Some((*name).to_owned()),
                [_] => None,
                _ => panic!("FROM {args}: expected `FROM image [AS name]`"),
            };
            stages.push(Stage {
                base: tokens[0].to_owned(),
                name,
                steps: Vec::new(),
            });
        } else if let Some(stage) = stages.last_mut() {
            stage.steps.push(Instruction { keyword, args });
        } else {
            assert_eq!(keyword, "ARG", "only ARG may come before the first FROM");
        }
    }
    stages
}

fn final_stage(stages: &[Stage]) -> &Stage {
    stages.last().expect("the Dockerfile has a FROM")
}

/// An instruction's JSON (exec) form: `["/usr/local/bin/keeper"]`.
fn exec_form(args: &str) -> Vec<String> {
    serde_json::from_str(args).unwrap_or_else(|_| {
        panic!("`{args}` is not the exec form: a shell in between would not pass SIGTERM on")
    })
}

/// `COPY [--from=stage] [--chown=...] src... dest`.
struct Copy {
    from: Option<String>,
    sources: Vec<String>,
    dest: String,
}

fn parse_copy(args: &str) -> Copy {
    let mut from = None;
    let mut paths = Vec::new();
    for token in args.split_whitespace() {
        match token.strip_prefix("--") {
            Some(flag) => {
                if let Some(stage) = flag.strip_prefix("from=") {
                    from = Some(stage.to_owned());
                }
            }
            None => paths.push(token.to_owned()),
        }
    }
    let dest = paths.pop().expect("COPY has a destination");
    assert!(!paths.is_empty(), "COPY {args}: no source");
    Copy {
        from,
        sources: paths,
        dest,
    }
}

/// Where a COPY puts `source`: into `dest` when it ends with `/`.
fn copied_to(copy: &Copy, source: &str) -> String {
    match copy.dest.ends_with('/') {
        true => format!("{}{}", copy.dest, source.rsplit('/').next().unwrap()),
        false => copy.dest.clone(),
    }
}

/// `WORKDIR`-relative paths made absolute (the default WORKDIR is `/`).
fn absolute(workdir: &str, path: &str) -> String {
    let joined = match path.starts_with('/') {
        true => path.to_owned(),
        false => format!("{}/{path}", workdir.trim_end_matches('/')),
    };
    joined.replace("/./", "/")
}

/// The Debian release an image is built on, by its tag (`rust:1-bookworm`,
/// `debian:bookworm-slim`).
fn debian_release(image: &str) -> &'static str {
    ["bullseye", "bookworm", "trixie"]
        .into_iter()
        .find(|release| image.contains(release))
        .unwrap_or_else(|| panic!("{image}: no Debian release in its tag"))
}

/// The packages a stage installs: the words of its `apt-get install` commands.
fn installed(stage: &Stage) -> BTreeSet<&str> {
    stage
        .all("RUN")
        .flat_map(|run| run.split([';', '&', '|']))
        .filter_map(|command| command.split_once("apt-get install").map(|(_, rest)| rest))
        .flat_map(str::split_whitespace)
        .map(|word| word.trim_matches(|c| c == '"' || c == '\''))
        .filter(|word| !word.starts_with('-'))
        .collect()
}

/// The major version of `pg_dump` the runtime stage installs, `PG_MAJOR`
/// taken from `build_args` (compose's) or the stage's `ARG` default.
fn pg_client_major(stage: &Stage, build_args: &BTreeMap<String, String>) -> u32 {
    let package = installed(stage)
        .into_iter()
        .find(|p| p.starts_with("postgresql-client"))
        .expect("the runtime stage installs postgresql-client (pg_dump, for `keeper backup`)");
    let version = match package.strip_prefix("postgresql-client-") {
        Some("${PG_MAJOR}" | "$PG_MAJOR") => build_args.get("PG_MAJOR").cloned().or_else(|| {
            stage
                .all("ARG")
                .find_map(|a| a.strip_prefix("PG_MAJOR="))
                .map(str::to_owned)
        }),
        Some(version) => Some(version.to_owned()),
        // Debian's own, by release.
        None => Some(
            match debian_release(&stage.base) {
                "bullseye" => "13",
                "bookworm" => "15",
                _ => "17",
            }
            .to_owned(),
        ),
    };
    let version = version.unwrap_or_else(|| panic!("{package}: PG_MAJOR has no value"));
    version
        .parse()
        .unwrap_or_else(|_| panic!("{package}: `{version}` is not a major version"))
}

/// The image runs the binary its own builder stage built (not one from the
/// developer's machine), as an unprivileged user that owns its data volume,
/// with a health check the HTTP server answers, the SQLite default inside the
/// volume, and the tools `keeper backup` needs for the compose file's
/// PostgreSQL.
#[test]
fn dockerfile_runs_the_binary_as_non_root() {
    let stages = dockerfile();
    assert!(
        stages.len() >= 2,
        "multi-stage: a builder and a slim runtime, {} stage(s) found",
        stages.len()
    );
    let runtime = final_stage(&stages);

    // ENTRYPOINT: the binary, in the exec form; CMD: the bot.
    let entrypoint = exec_form(runtime.last("ENTRYPOINT").expect("an ENTRYPOINT"));
    let binary = entrypoint.first().expect("ENTRYPOINT names the binary");
    assert!(binary.ends_with("/keeper"), "ENTRYPOINT {entrypoint:?}");
    assert_eq!(
        exec_form(runtime.last("CMD").expect("a CMD")),
        ["run"],
        "the default command runs the bot"
    );

    // The binary comes from the builder stage's `cargo build`.
    let copy = runtime
        .all("COPY")
        .map(parse_copy)
        .filter(|c| c.sources.iter().any(|s| copied_to(c, s) == *binary))
        .last()
        .unwrap_or_else(|| panic!("no COPY puts {binary} in the runtime stage"));
    let from = copy
        .from
        .as_deref()
        .unwrap_or_else(|| panic!("{binary} is copied from the build context, not built"));
    let builder_at = stages
        .iter()
        .position(|s| s.name.as_deref() == Some(from))
        .or_else(|| from.parse().ok())
        .unwrap_or_else(|| panic!("COPY --from={from}: no such stage"));
    assert!(
        builder_at < stages.len() - 1,
        "the builder is an earlier stage"
    );
    let builder = &stages[builder_at];
    let workdir = builder.last("WORKDIR").unwrap_or("/");
    assert_eq!(
        copy.sources
            .iter()
            .map(|s| absolute(workdir, s))
            .collect::<Vec<_>>(),
        [absolute(workdir, "target/release/keeper")],
        "the binary copied is the release build of the builder stage (WORKDIR {workdir})"
    );
    let build_at = builder
        .position(|i| i.keyword == "RUN" && i.args.contains("cargo build"))
        .expect("the builder stage runs cargo build");
    let build = builder.steps[build_at].args.as_str();
    let tokens: Vec<&str> = build.split_whitespace().collect();
    for flag in ["--release", "--locked"] {
        assert!(
            tokens.contains(&flag),
            "cargo build without {flag}: {build}"
        );
    }
    assert!(
        tokens.windows(2).any(|w| w == ["--bin", "keeper"]) || tokens.contains(&"--bin=keeper"),
        "cargo build --bin keeper: {build}"
    );
    // Nothing moves the output elsewhere than target/release.
    assert!(
        !tokens.iter().any(|t| t.starts_with("--target"))
            && builder.env_value("CARGO_TARGET_DIR").is_none(),
        "the build's output is not in target/release: {build}"
    );
    assert!(
        builder
            .all("RUN")
            .skip_while(|r| *r != build)
            .skip(1)
            .all(|r| !r.contains("cargo")),
        "a later cargo command in the builder may replace what the build made"
    );
    // No database in a build: sqlx's macros read the committed .sqlx/.
    let offline_at = builder.position(|i| {
        i.keyword == "ENV"
            && env_pairs(&i.args)
                .iter()
                .any(|(k, v)| k == "SQLX_OFFLINE" && v == "true")
    });
    assert!(
        offline_at.is_some_and(|at| at < build_at) || build.contains("SQLX_OFFLINE=true"),
        "SQLX_OFFLINE=true must be set for the builder's cargo build"
    );
    // glibc: the binary links the builder's, which the runtime must not predate.
    assert_eq!(
        debian_release(&builder.base),
        debian_release(&runtime.base),
        "builder {} and runtime {} are different Debian releases",
        builder.base,
        runtime.base
    );

    // Not root, and the user exists and owns the data volume.
    let user = runtime.last("USER").expect("a USER: the default is root");
    let uid = user.split(':').next().unwrap();
    assert!(uid != "root" && uid != "0", "USER {user} is root");
    let segments: Vec<&str> = runtime
        .all("RUN")
        .flat_map(|r| r.split([';', '&']))
        .collect();
    let created = segments
        .iter()
        .find(|s| {
            (s.contains("useradd") || s.contains("adduser"))
                && s.split_whitespace().any(|t| t == uid)
        })
        .unwrap_or_else(|| panic!("no RUN creates the user {uid}"));
    let names = [uid, created.split_whitespace().last().unwrap()];
    let volumes: Vec<String> = runtime
        .all("VOLUME")
        .flat_map(|v| match v.starts_with('[') {
            true => exec_form(v),
            false => v.split_whitespace().map(str::to_owned).collect(),
        })
        .collect();
    let data = runtime.last("WORKDIR").expect("a WORKDIR");
    assert!(
        volumes.iter().any(|v| v == data),
        "WORKDIR {data} is not a VOLUME ({volumes:?}): what Keeper writes there would die with the container"
    );
    let volume_at = runtime.position(|i| i.keyword == "VOLUME").unwrap();
    let owned = runtime.steps[..volume_at]
        .iter()
        .filter(|i| i.keyword == "RUN")
        .flat_map(|i| i.args.split([';', '&']))
        .any(|s| {
            let t: Vec<&str> = s.split_whitespace().collect();
            t.contains(&data)
                && (t.contains(&"chown") || t.contains(&"install"))
                && names
                    .iter()
                    .any(|n| t.contains(n) || t.iter().any(|x| x.starts_with(&format!("{n}:"))))
        });
    assert!(
        owned,
        "no RUN before the VOLUME line gives {data} to {names:?}: Keeper could not write its database"
    );
    let database = runtime
        .env_value("DATABASE_URL")
        .expect("DATABASE_URL set in the image");
    let path = database
        .strip_prefix("sqlite:")
        .map(|p| p.trim_start_matches("//"))
        .unwrap_or_else(|| panic!("the image's default database is SQLite: {database}"));
    assert!(
        path.starts_with(&format!("{data}/")),
        "DATABASE_URL {database} is outside the volume {data}"
    );

    // The health check asks the HTTP server, which the image turns on.
    let check = runtime.last("HEALTHCHECK").expect("a HEALTHCHECK");
    let (_, command) = check.split_once("CMD ").expect("HEALTHCHECK ... CMD ...");
    assert!(command.contains("/healthz"), "HEALTHCHECK {check}");
    let http = runtime
        .env_value("KEEPER_HTTP_ADDR")
        .expect("KEEPER_HTTP_ADDR set in the image, or nothing answers the HEALTHCHECK");
    let port = http.rsplit(':').next().unwrap();
    assert!(
        command.contains("KEEPER_HTTP_ADDR") || command.contains(&format!(":{port}/")),
        "HEALTHCHECK asks another port than KEEPER_HTTP_ADDR {http}: {check}"
    );
    let tool = command
        .trim_start_matches('[')
        .split_whitespace()
        .next()
        .unwrap()
        .trim_matches(|c| c == '"' || c == ',');
    assert!(
        tool == binary || installed(runtime).contains(tool),
        "the HEALTHCHECK runs {tool}, which the runtime stage does not install"
    );

    // `keeper backup` runs pg_dump, which refuses a server of a newer major
    // version: at least the compose file's PostgreSQL's.
    let doc = compose();
    let server: u32 = services(&doc)
        .iter()
        .filter_map(|(_, s)| s.get("image").map(scalar))
        .find_map(|image| {
            let tag = image.strip_prefix("postgres:")?;
            tag.split(|c: char| !c.is_ascii_digit())
                .next()?
                .parse()
                .ok()
        })
        .expect("docker-compose.yml runs postgres:<major>");
    // The image as `docker build .` makes it, and as each service builds it.
    let client = pg_client_major(runtime, &BTreeMap::new());
    assert!(
        client >= server,
        "the Dockerfile's pg_dump {client} refuses the compose file's PostgreSQL {server}"
    );
    for keeper in keeper_services(&doc) {
        let build = keeper.spec.get("build");
        let args = string_map(
            &keeper.name,
            "build args",
            build.and_then(|b| b.get("args")),
        );
        let client = pg_client_major(runtime, &args);
        assert!(
            client >= server,
            "{}: pg_dump {client} refuses the PostgreSQL {server} server",
            keeper.name
        );
    }
}

// --- the build context -------------------------------------------------------------

/// `.dockerignore`'s patterns, in order.
fn dockerignore() -> Vec<String> {
    read(".dockerignore")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .collect()
}

/// Whether `.dockerignore` keeps `path` (relative, `/`-separated) out of the
/// build context: the last pattern matching it or a folder above it decides
/// (`!` patterns bring back). Patterns as Docker reads them: from the
/// context's root, `*` and `?` within a name, `**` any number of folders.
fn ignored(patterns: &[String], path: &str) -> bool {
    let components: Vec<&str> = path.split('/').collect();
    let mut ignored = false;
    for pattern in patterns {
        let (keep, pattern) = match pattern.strip_prefix('!') {
            Some(p) => (true, p),
            None => (false, pattern.as_str()),
        };
        let pattern: Vec<&str> = pattern
            .trim_start_matches('/')
            .trim_end_matches('/')
            .split('/')
            .collect();
        if (1..=components.len()).any(|n| glob(&pattern, &components[..n])) {
            ignored = !keep;
        }
    }
    ignored
}

fn glob(pattern: &[&str], path: &[&str]) -> bool {
    match (pattern.first(), path.first()) {
        (None, None) => true,
        (Some(&"**"), _) => {
            glob(&pattern[1..], path) || (!path.is_empty() && glob(pattern, &path[1..]))
        }
        (Some(p), Some(c)) => {
            glob_name(p.as_bytes(), c.as_bytes()) && glob(&pattern[1..], &path[1..])
        }
        _ => false,
    }
}

fn glob_name(pattern: &[u8], name: &[u8]) -> bool {
    match (pattern.first(), name.first()) {
        (None, None) => true,
        (Some(b'*'), _) => {
            glob_name(&pattern[1..], name) || (!name.is_empty() && glob_name(pattern, &name[1..]))
        }
        (Some(b'?'), Some(_)) => glob_name(&pattern[1..], &name[1..]),
        (Some(p), Some(c)) => p == c && glob_name(&pattern[1..], &name[1..]),
        _ => false,
    }
}

/// Copy `from` (a path in the repository, `rel`) into `to` as the build
/// context would hold it: without what `.dockerignore` leaves out.
fn copy_context(patterns: &[String], from: &Path, rel: &str, to: &Path) {
    if !rel.is_empty() && ignored(patterns, rel) {
        return;
    }
    let meta = std::fs::symlink_metadata(from).unwrap_or_else(|e| panic!("{rel}: {e}"));
    if meta.is_dir() {
        std::fs::create_dir_all(to).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            let name = entry.file_name().into_string().unwrap();
            copy_context(
                patterns,
                &entry.path(),
                &match rel {
                    "" => name.clone(),
                    rel => format!("{rel}/{name}"),
                },
                &to.join(&name),
            );
        }
    } else if meta.is_file() {
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(from, to).unwrap();
    }
}

/// A temporary directory, removed when dropped (a failing test too).
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// What the builder stage copies is a workspace cargo builds: the manifests,
/// every crate, the targets Cargo.toml declares, and a Cargo.lock that
/// `--locked` accepts; each store crate's offline query data (.sqlx/) and the
/// migrations `sqlx::migrate!()` embeds are there; and .dockerignore keeps
/// out build output and secrets. The build context is rebuilt in a
/// temporary directory from the builder's COPY lines and .dockerignore, and
/// the builder's own `cargo build` runs on it with its output directory made
/// impossible: cargo reads and checks the whole workspace first (a missing
/// target or crate, a stale Cargo.lock, an unknown `--bin` are refused
/// then), so failing only at creating the output directory proves all of
/// that without compiling for minutes.
#[test]
fn dockerfile_builds_from_a_complete_context() {
    let patterns = dockerignore();
    for secret in [
        ".env",
        "target/release/keeper",
        "crates/store/target/x",
        ".git/HEAD",
        "keeper.db",
    ] {
        assert!(
            ignored(&patterns, secret),
            ".dockerignore lets {secret} into the build context"
        );
    }
    for needed in [
        "Cargo.lock",
        "src/main.rs",
        "crates/store-sqlite/.sqlx/query.json",
        "crates/store-postgres/sqlx.toml",
        "migrations/postgres/0001_init.sql",
    ] {
        assert!(
            !ignored(&patterns, needed),
            ".dockerignore keeps {needed} out of the build context, which the build reads"
        );
    }

    let stages = dockerfile();
    let runtime = final_stage(&stages);
    let from = runtime
        .all("COPY")
        .map(parse_copy)
        .find_map(|c| c.from)
        .expect("the runtime copies from the builder");
    let builder = stages
        .iter()
        .find(|s| s.name.as_deref() == Some(from.as_str()))
        .expect("the builder stage");
    let workdir = builder.last("WORKDIR").unwrap_or("/");

    let context = Scratch(std::env::temp_dir().join(format!(
        "keeper-deploy-context-{}-{}",
        std::process::id(),
        common::unique()
    )));
    let root = context.0.join("root");
    for copy in builder.all("COPY").map(parse_copy) {
        assert!(copy.from.is_none(), "the builder copies from another stage");
        for source in &copy.sources {
            // Paths in the context; `.` is all of it.
            let source = match source.trim_start_matches("./").trim_end_matches('/') {
                "." => "",
                source => source,
            };
            let dest = absolute(workdir, &copied_to(&copy, source));
            let dest = dest
                .strip_prefix(workdir.trim_end_matches('/'))
                .unwrap_or_else(|| panic!("COPY {source}: outside WORKDIR {workdir}"))
                .trim_start_matches('/');
            let dest = if dest == "." { "" } else { dest };
            let path = Path::new(ROOT).join(source);
            assert!(path.exists(), "COPY {source}: not in the repository");
            copy_context(&patterns, &path, source, &root.join(dest));
        }
    }

    for entry in std::fs::read_dir(root.join("crates")).expect("crates/ copied") {
        let dir = entry.unwrap().path();
        let Ok(toml) = std::fs::read_to_string(dir.join("sqlx.toml")) else {
            continue;
        };
        let has = |dir: &Path, ext: &str| {
            std::fs::read_dir(dir).is_ok_and(|entries| {
                entries
                    .flatten()
                    .any(|e| e.path().extension().is_some_and(|x| x == ext))
            })
        };
        assert!(
            has(&dir.join(".sqlx"), "json"),
            "{}: no .sqlx/ query data in the context (SQLX_OFFLINE build)",
            dir.display()
        );
        let migrations = toml
            .lines()
            .find_map(|l| {
                l.split_once('=')
                    .filter(|(k, _)| k.trim() == "migrations-dir")
            })
            .map(|(_, v)| v.trim().trim_matches('"').to_owned())
            .unwrap_or_else(|| "migrations".to_owned());
        assert!(
            has(&dir.join(&migrations), "sql"),
            "{}: its migrations ({migrations}) are not in the context",
            dir.display()
        );
    }

    let build = builder
        .all("RUN")
        .find(|r| r.contains("cargo build"))
        .expect("cargo build");
    let args: Vec<&str> = build
        .split_whitespace()
        .skip_while(|t| *t != "build")
        .take_while(|t| !["&&", ";", "||"].contains(t))
        .collect();
    let not_a_directory = context.0.join("file");
    std::fs::write(&not_a_directory, "").unwrap();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = std::process::Command::new(cargo)
        .args(&args)
        .arg("--offline")
        .arg("--target-dir")
        .arg(not_a_directory.join("target"))
        .current_dir(&root)
        .env("SQLX_OFFLINE", "true")
        .output()
        .expect("run cargo");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("failed to create directory"),
        "cargo {args:?} refused the builder's context before building:\n{stderr}"
    );
}

// --- the compose file's processes, without containers -------------------------------

/// Each Keeper service's name, shard range and total.
fn slices_of(keepers: &[KeeperService]) -> Vec<(String, ShardRange, u32)> {
    keepers
        .iter()
        .map(|k| {
            let (range, total) = shard_slice(k);
            (k.name.clone(), range, total)
        })
        .collect()
}

/// One compose service's process, running.
struct Running {
    name: String,
    http: SocketAddr,
    keeper: KeeperProcess,
}

/// The second proof: the compose file's Keeper services, each run as the
/// container would run it (the binary, the service's `command:` and
/// `environment:`), on one PostgreSQL database and a simulated Discord with
/// the file's total of shards. Only what points at the outside world is the
/// test's: DATABASE_URL, the token and Discord's URLs (`.env` and compose's
/// network in production), and KEEPER_HTTP_ADDR's port (each container has its
/// own address; here they share 127.0.0.1). Every process becomes ready
/// (`/readyz` 200), each shard is identified once across them, their logs
/// are JSON, members chatting in a guild of every shard earn XP in the one
/// database, and SIGTERM stops each with exit code 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compose_processes_run_without_containers() {
    let keepers = keeper_services(&compose());
    let slices = slices_of(&keepers);
    let total = agreed_total(&slices);
    let sim = Sim::with_config(SimConfig {
        shards: total,
        ..SimConfig::fast()
    })
    .await;
    let (backend, url) = Backend::create(common::Db::Postgres).await;
    let dir = backend.scratch_dir();
    // The body runs in a task so that the database is dropped whatever
    // happens; the processes die with it (kill_on_drop).
    let outcome = tokio::spawn(run_compose_processes(sim, keepers, total, url, dir)).await;
    backend.drop().await;
    if let Err(err) = outcome {
        std::panic::resume_unwind(err.into_panic());
    }
}

async fn run_compose_processes(
    sim: Sim,
    keepers: Vec<KeeperService>,
    total: u32,
    url: String,
    dir: PathBuf,
) {
    // A guild on every shard (guilds made together spread over the shards),
    // each with a channel and a member, so that every process has work.
    let mut guilds = Vec::new();
    for n in 0..total {
        let guild = sim.guild(&format!("guild-{n}")).await;
        let channel = guild.text_channel("general");
        let member = guild.member(&format!("member-{n}"));
        guilds.push((guild, channel, member));
    }
    let shards: BTreeSet<u64> = guilds
        .iter()
        .map(|(g, _, _)| (g.id() >> 22) % u64::from(total))
        .collect();
    assert_eq!(shards.len(), total as usize, "a guild on every shard");

    let mut running = Vec::new();
    for service in &keepers {
        assert!(
            service.env.contains_key("KEEPER_HTTP_ADDR"),
            "{}: no KEEPER_HTTP_ADDR, so no /healthz for its healthcheck",
            service.name
        );
        let http = common::free_addr();
        let mut env = service.env.clone();
        for (key, value) in [
            ("DATABASE_URL", url.clone()),
            ("DISCORD_TOKEN", sim.token()),
            ("DISCORD_API_URL", format!("http://{}", sim.http_addr())),
            ("DISCORD_GATEWAY_URL", sim.gateway_url()),
            ("KEEPER_HTTP_ADDR", http.to_string()),
            // The simulator's identify window is 1 s, Discord's 5 s: the same
            // rule, faster (hidden, so the compose file does not set it).
            ("KEEPER_IDENTIFY_WINDOW_MS", common::identify_window_ms()),
        ] {
            env.insert(key.to_owned(), value);
        }
        for (key, value) in &env {
            assert!(
                !value.contains('$'),
                "{}: {key}={value} needs compose's interpolation, which this test does not do",
                service.name
            );
        }
        let env: Vec<(String, String)> = env.into_iter().collect();
        running.push(Running {
            name: service.name.clone(),
            http,
            keeper: KeeperProcess::spawn_with(&dir, &service.args, &env),
        });
    }

    // Ready: every shard of each process connected, the database answering.
    // Identifies are paced across all processes (one per 1 s window here, as
    // on Discord per 5 s), so the last shard connects some seconds in.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    for process in &mut running {
        let mut last;
        loop {
            if let Some(status) = process.keeper.exited() {
                panic!(
                    "{} exited ({status}) before it was ready; its log:\n{}",
                    process.name,
                    process.keeper.output()
                );
            }
            match common::http_get(process.http, "/readyz").await {
                Ok((200, _)) => break,
                answer => last = answer,
            }
            if tokio::time::Instant::now() > deadline {
                panic!(
                    "{}'s /readyz still answers {last:?}; sessions: {:?}; its log:\n{}",
                    process.name,
                    sim.sessions(),
                    process.keeper.output()
                );
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        let health = common::http_get(process.http, "/healthz").await;
        assert!(
            matches!(health, Ok((200, _))),
            "{}'s /healthz: {health:?}",
            process.name
        );
    }

    // Each shard identified once, across all processes: no process ran a shard
    // outside its slice, none was run twice (a second IDENTIFY would be a
    // second session), and the ready processes together hold all of them.
    let connected: Vec<[u32; 2]> = sim
        .sessions()
        .iter()
        .filter(|s| s.connected)
        .map(|s| s.shard)
        .collect();
    let every: Vec<[u32; 2]> = (0..total).map(|shard| [shard, total]).collect();
    let logs = || {
        running
            .iter()
            .map(|p| format!("{}:\n{}", p.name, p.keeper.output()))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(connected, every, "connected sessions; logs:\n{}", logs());
    let counts = sim.gateway_counts();
    assert_eq!(
        counts.identifies,
        u64::from(total),
        "{counts:?}; logs:\n{}",
        logs()
    );
    // Four processes started together took turns through the database: none
    // identified inside another's window (each one that did would have been
    // refused, and counted by Discord toward a ban).
    assert_eq!(
        counts.identifies_too_fast,
        0,
        "{counts:?}; logs:\n{}",
        logs()
    );

    // Members speak in every guild; their XP lands in the one database, by
    // whichever process runs the guild's shard, with the default rules.
    let store = common::open_store(&url).await;
    let mut expected = BTreeMap::new();
    for (guild, channel, member) in &guilds {
        member.says(channel, "hello").await;
        let rules = keeper_store::GuildSettings::defaults(twilight_model::id::Id::new(guild.id()));
        expected.insert(
            (guild.id(), member.id()),
            ExpectedXp {
                messages: 1,
                awards: 1,
                min_xp: rules.xp_min.into(),
                max_xp: rules.xp_max.into(),
            },
        );
    }
    let guild_ids: Vec<u64> = guilds.iter().map(|(g, _, _)| g.id()).collect();
    if let Err(wrong) =
        common::await_expected_xp(&*store, &guild_ids, &expected, Duration::from_secs(30)).await
    {
        panic!(
            "stored XP is wrong:\n{}\nlogs:\n{}",
            wrong.join("\n"),
            logs()
        );
    }

    // SIGTERM, as `docker compose stop` sends it to every container at once.
    let stopped = futures_util::future::join_all(running.into_iter().map(|p| async move {
        let (status, log) = p.keeper.terminate(Duration::from_secs(10)).await;
        (p.name, status, log)
    }))
    .await;
    for (name, status, log) in &stopped {
        assert!(
            status.success(),
            "{name} exited with {status}; its log:\n{log}"
        );
        // KEEPER_LOG_FORMAT=json from the compose file: one object per line,
        // from the first line to the last, tracing's (with a level).
        let lines: Vec<&str> = log.lines().filter(|l| !l.trim().is_empty()).collect();
        assert!(!lines.is_empty(), "{name} logged nothing");
        for line in lines {
            let parsed: Result<serde_json::Value, _> = serde_json::from_str(line);
            assert!(
                parsed.as_ref().is_ok_and(|v| v.get("level").is_some()),
                "{name} logged a line that is not a JSON log object: {line}"
            );
        }
    }
    // Each process saved its shards' sessions on the way out, resumable.
    for shard in 0..total {
        assert!(
            store.session(shard).await.unwrap().is_some(),
            "shard {shard}'s session was not saved at SIGTERM"
        );
    }
    store.close().await;
}

//! Progress of a long data operation (`keeper restore`, `keeper copy`,
//! `keeper backup`): a bar
//! redrawn in place on a terminal, plain lines every few seconds otherwise (a
//! log file or CI keeps every line, so they must be few and whole).

use std::{
    io::{IsTerminal, Write},
    time::{Duration, Instant},
};

/// How often a plain line is written when stderr is not a terminal.
const PLAIN_EVERY: Duration = Duration::from_secs(5);
/// How often the bar is redrawn on a terminal.
const BAR_EVERY: Duration = Duration::from_millis(100);

/// Rows (or bytes) done out of a total, told on stderr.
pub struct Progress {
    /// `None`: not known beforehand (a `pg_dump` archive's size).
    total: Option<u64>,
    unit: &'static str,
    done: u64,
    started: Instant,
    last_told: Option<Instant>,
    terminal: bool,
}

impl Progress {
    /// `total` rows to go; a bar when stderr is a terminal.
    pub fn new(total: u64) -> Self {
        Self::of(Some(total), "rows")
    }

    /// Bytes written out of `total` expected (`None`: unknown).
    pub fn bytes(total: Option<u64>) -> Self {
        Self::of(total, "bytes")
    }

    fn of(total: Option<u64>, unit: &'static str) -> Self {
        Self {
            total,
            unit,
            done: 0,
            started: Instant::now(),
            last_told: None,
            terminal: std::io::stderr().is_terminal(),
        }
    }

    /// `table` has `rows` done so far, on top of the tables before it (`before`).
    pub fn update(&mut self, table: &str, before: u64, rows: u64) {
        self.done = before + rows;
        let every = if self.terminal {
            BAR_EVERY
        } else {
            PLAIN_EVERY
        };
        if self.last_told.is_some_and(|at| at.elapsed() < every) {
            return;
        }
        self.last_told = Some(Instant::now());
        let line = match self.total {
            Some(total) => line_of(table, self.done, total, self.started.elapsed(), self.unit),
            None => format!(
                "{table}  {} {unit} so far  {} {unit}/s",
                grouped(self.done),
                grouped(self.rate().round() as u64),
                unit = self.unit
            ),
        };
        let mut err = std::io::stderr().lock();
        let _ = if self.terminal {
            write!(err, "\r{line}\x1b[K")
        } else {
            writeln!(err, "{line}")
        };
    }

    /// All of it is done: `done` is the whole (an estimated total is replaced
    /// by what it came to), told at once, and the line finished.
    pub fn complete(&mut self, table: &str, done: u64) {
        self.total = Some(done);
        self.last_told = None;
        self.update(table, 0, done);
        self.finish();
    }

    /// The bar's line is finished, so what follows starts on its own line.
    pub fn finish(&mut self) {
        if self.terminal && self.last_told.is_some() {
            let _ = writeln!(std::io::stderr());
        }
        self.last_told = None;
    }

    /// Rows per second over the whole operation so far.
    pub fn rate(&self) -> f64 {
        rate(self.done, self.started.elapsed())
    }
}

fn rate(done: u64, elapsed: Duration) -> f64 {
    let secs = elapsed.as_secs_f64();
    if secs > 0.0 { done as f64 / secs } else { 0.0 }
}

/// `[########------------]  40%  member_xp  400,000/1,000,000 rows  85,000 rows/s  7 s left`.
pub fn progress_line(table: &str, done: u64, total: u64, elapsed: Duration) -> String {
    line_of(table, done, total, elapsed, "rows")
}

/// [`progress_line`] counting `unit`s.
fn line_of(table: &str, done: u64, total: u64, elapsed: Duration, unit: &str) -> String {
    const WIDTH: u64 = 20;
    let done = done.min(total);
    let (filled, percent) = match total {
        0 => (WIDTH, 100),
        _ => (done * WIDTH / total, done * 100 / total),
    };
    let per_sec = rate(done, elapsed);
    let left = if done == total {
        "done".to_owned()
    } else if per_sec >= 1.0 {
        format!("{} left", human_duration((total - done) as f64 / per_sec))
    } else {
        "time left unknown".to_owned()
    };
    format!(
        "[{}{}] {percent:>3}%  {table}  {}/{} {unit}  {} {unit}/s  {left}",
        "#".repeat(filled as usize),
        "-".repeat((WIDTH - filled) as usize),
        grouped(done),
        grouped(total),
        grouped(per_sec.round() as u64),
    )
}

/// 1234567 as `1,234,567`.
pub fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Seconds as `42 s`, `3 min 20 s` or `2 h 5 min`.
fn human_duration(secs: f64) -> String {
    let secs = secs.ceil() as u64;
    match secs {
        0..60 => format!("{secs} s"),
        60..3600 => format!("{} min {} s", secs / 60, secs % 60),
        _ => format!("{} h {} min", secs / 3600, secs % 3600 / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_grouped_by_thousands() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1_000), "1,000");
        assert_eq!(grouped(1_234_567), "1,234,567");
    }

    #[test]
    fn the_line_shows_share_rate_and_time_left() {
        let line = progress_line("member_xp", 400_000, 1_000_000, Duration::from_secs(4));
        assert_eq!(
            line,
            "[########------------]  40%  member_xp  400,000/1,000,000 rows  100,000 rows/s  6 s left"
        );
        let line = progress_line("mod_cases", 10, 1_000_000, Duration::from_secs(1));
        assert!(line.ends_with("27 h 46 min left"), "{line}");
        let line = progress_line("guilds", 3, 3, Duration::from_millis(10));
        assert!(line.starts_with("[####################] 100%"), "{line}");
        assert!(line.ends_with("done"), "{line}");
    }

    #[test]
    fn bytes_are_counted_like_rows() {
        let line = line_of(
            "backup",
            5_000_000,
            10_000_000,
            Duration::from_secs(1),
            "bytes",
        );
        assert_eq!(
            line,
            "[##########----------]  50%  backup  5,000,000/10,000,000 bytes  5,000,000 bytes/s  1 s left"
        );
    }

    #[test]
    fn nothing_to_do_and_no_time_yet_are_said_plainly() {
        let line = progress_line("guilds", 0, 0, Duration::ZERO);
        assert!(line.contains("100%") && line.ends_with("done"), "{line}");
        let line = progress_line("guilds", 0, 10, Duration::ZERO);
        assert!(line.ends_with("time left unknown"), "{line}");
        assert_eq!(human_duration(61.0), "1 min 1 s");
    }
}

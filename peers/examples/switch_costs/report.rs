//! Printing rows: a table for people, one JSON object per line for programs.

use crate::measure::Stats;

/// The four families of rows; each is compared with its own corio row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// One round trip A→B→A.
    Handoff,
    /// Start a unit that does nothing and wait for it.
    Creation,
    /// RSS growth per parked unit.
    Memory,
    /// Page-table growth per parked unit (informational: outside RSS).
    PageTables,
    /// Kernel context switches per 1,000 round trips.
    KernelSwitches,
}

impl Kind {
    /// The corio row the others of this kind are divided by.
    pub fn baseline(self) -> &'static str {
        match self {
            Kind::Handoff => "corio_yield",
            Kind::Creation => "corio_spawn_join",
            Kind::Memory => "corio_parked_bytes",
            Kind::PageTables => "corio_parked_pte_bytes",
            Kind::KernelSwitches => "corio_ctx_per_1k",
        }
    }

    fn title(self) -> &'static str {
        match self {
            Kind::Handoff => "handoffs: ns per round trip A→B→A",
            Kind::Creation => "creation: ns per spawn + join of an empty unit",
            Kind::Memory => "memory: bytes of RSS growth per parked unit",
            Kind::PageTables => "memory outside RSS: bytes of page tables (VmPTE) per parked unit",
            Kind::KernelSwitches => "kernel context switches per 1,000 round trips",
        }
    }
}

/// The unit of a row's value, spelled as in the JSON output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Nanoseconds per operation.
    Ns,
    /// Bytes per unit.
    Bytes,
    /// A count.
    Count,
}

impl Unit {
    /// `"ns"`, `"bytes"` or `"count"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Unit::Ns => "ns",
            Unit::Bytes => "bytes",
            Unit::Count => "count",
        }
    }
}

/// One measured row.
#[derive(Debug, Clone)]
pub struct Row {
    /// The stable key (`raw_switch`, `corio_yield`, ...).
    pub name: &'static str,
    /// Which family, hence which corio row it is compared with.
    pub kind: Kind,
    /// What the value counts.
    pub unit: Unit,
    /// The rounds; `stats.median` is the value.
    pub stats: Stats,
}

/// One JSON object per row, one per line, and nothing else: `name`,
/// `value` (the median, a number) and `unit`.
pub fn print_json(rows: &[Row]) {
    for row in rows {
        let value = (row.stats.median * 1e3).round() / 1e3;
        let line = serde_json::json!({"name": row.name, "value": value, "unit": row.unit.as_str()});
        println!("{line}");
    }
}

/// The table: one section per kind, each row with its ratio to the corio row
/// of that kind and the spread of its rounds.
pub fn print_table(header: &[String], rows: &[Row]) {
    for line in header {
        println!("{line}");
    }
    let kinds = [
        Kind::Handoff,
        Kind::Creation,
        Kind::Memory,
        Kind::PageTables,
        Kind::KernelSwitches,
    ];
    for kind in kinds {
        let section: Vec<&Row> = rows.iter().filter(|row| row.kind == kind).collect();
        if section.is_empty() {
            continue;
        }
        let baseline = rows.iter().find(|row| row.name == kind.baseline());
        println!();
        println!("{} (ratio: ÷ {})", kind.title(), kind.baseline());
        println!(
            "  {:<24} {:>12} {:<5} {:>10}   {:<23} rounds × per round",
            "row", "median", "unit", "ratio", "spread (min..max)"
        );
        for row in section {
            let ratio = match baseline {
                Some(base) if base.stats.median > 0.0 => {
                    format!("{:.2}x", row.stats.median / base.stats.median)
                }
                _ => "-".to_string(),
            };
            println!(
                "  {:<24} {:>12} {:<5} {:>10}   {:<23} {} × {}",
                row.name,
                number(row.stats.median),
                row.unit.as_str(),
                ratio,
                format!("{}..{}", number(row.stats.min), number(row.stats.max)),
                row.stats.rounds,
                thousands(row.stats.per_round)
            );
        }
    }
    print_same_mechanism(rows);
}

/// Process against thread where both hand off over the same mechanism:
/// the ratio the textbook claim ("a thread switch is much cheaper than a
/// process switch") is about.
fn print_same_mechanism(rows: &[Row]) {
    let median = |name: &str| {
        rows.iter()
            .find(|row| row.name == name)
            .map(|row| row.stats.median)
    };
    let pairs: Vec<String> = [
        ("pipe", "process_pipe_pingpong", "thread_pipe_pingpong"),
        ("futex", "process_futex_pingpong", "thread_futex_pingpong"),
    ]
    .into_iter()
    .filter_map(|(mechanism, process, thread)| {
        let (p, t) = (median(process)?, median(thread)?);
        (t > 0.0).then(|| format!("  {mechanism:<6} {process} ÷ {thread} = {:.2}x", p / t))
    })
    .collect();
    if !pairs.is_empty() {
        println!();
        println!("same mechanism, process ÷ thread (above 1x: the process switch costs more):");
        for pair in pairs {
            println!("{pair}");
        }
    }
}

/// `1234567` → `1,234,567`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut grouped = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    grouped
}

/// Three significant digits at least, no exponent.
fn number(value: f64) -> String {
    if value >= 100.0 {
        format!("{value:.0}")
    } else if value >= 10.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.2}")
    }
}

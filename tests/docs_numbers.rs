//! Numbers that cannot go stale: every number in README's "What it
//! measures" table, and in the tables of the concept guide (English and
//! Chinese), must appear in a file under `docs/results/`, which
//! `scripts/results.sh` writes from the commands' own output; and every
//! line the concept guide quotes in a `text` block must be a line of one of
//! those files. A figure typed from memory, or left behind by a newer run,
//! fails here.

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

/// Every number in `text`: digits with `,` or `.` between them, commas
/// dropped (`1,000` and `1000` are the same number). A trailing `.` ends a
/// sentence, not a number.
fn numbers(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if !chars[i].is_ascii_digit()
            || (i > 0 && (chars[i - 1].is_ascii_alphanumeric() || chars[i - 1] == '_'))
        {
            i += 1;
            continue;
        }
        let mut number = String::new();
        while i < chars.len() {
            let c = chars[i];
            let joins = (c == ',' || c == '.')
                && chars.get(i + 1).is_some_and(char::is_ascii_digit)
                && !number.is_empty();
            if c.is_ascii_digit() {
                number.push(c);
            } else if joins {
                if c == '.' {
                    number.push('.');
                }
            } else {
                break;
            }
            i += 1;
        }
        found.push(number);
    }
    found
}

/// Every number of every results file.
fn results_numbers(root: &Path) -> BTreeSet<String> {
    let dir = root.join("docs/results");
    let entries = fs::read_dir(&dir).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; run scripts/results.sh to write the results files",
            dir.display()
        )
    });
    let mut all = BTreeSet::new();
    for entry in entries {
        let path = entry.expect("a readable docs/results entry").path();
        if path.extension().is_some_and(|e| e == "md") {
            let text = fs::read_to_string(&path).expect("a readable results file");
            all.extend(numbers(&text));
        }
    }
    assert!(
        all.len() > 100,
        "docs/results holds almost nothing; run scripts/results.sh"
    );
    all
}

/// Table lines (`| ... |`) of `text`, or only those of the section whose
/// heading starts with `section`.
fn table_lines<'a>(text: &'a str, section: Option<&str>) -> Vec<&'a str> {
    let mut inside = section.is_none();
    let mut lines = Vec::new();
    for line in text.lines() {
        if let Some(heading) = line.strip_prefix("## ") {
            inside = section.is_none_or(|s| heading.starts_with(s));
            continue;
        }
        if inside && line.starts_with('|') && !line.starts_with("|---") {
            lines.push(line);
        }
    }
    lines
}

fn check(doc: &str, section: Option<&str>) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let known = results_numbers(root);
    let text = fs::read_to_string(root.join(doc)).unwrap_or_else(|e| panic!("{doc}: {e}"));
    let lines = table_lines(&text, section);
    assert!(!lines.is_empty(), "{doc} has no table to check");
    let missing: Vec<String> = lines
        .iter()
        .flat_map(|line| {
            numbers(line)
                .into_iter()
                .filter(|n| !known.contains(n))
                .map(move |n| format!("{n} in: {line}"))
        })
        .collect();
    assert!(
        missing.is_empty(),
        "{doc}: numbers found in no docs/results file (quote the results, or rerun scripts/results.sh):\n{}",
        missing.join("\n")
    );
}

#[test]
fn every_number_in_the_readme_table_is_in_a_results_file() {
    check("README.md", Some("What it measures"));
}

#[test]
fn every_number_in_the_concept_guides_tables_is_in_a_results_file() {
    check("docs/concepts.md", None);
    check("docs/zh/concepts.md", None);
}

/// The lines of `text` inside its ```` ```text ```` blocks.
fn quoted_lines(text: &str) -> Vec<&str> {
    let mut inside = false;
    let mut lines = Vec::new();
    for line in text.lines() {
        if line.starts_with("```") {
            inside = !inside && line == "```text";
        } else if inside {
            lines.push(line);
        }
    }
    lines
}

#[test]
fn every_output_the_concept_guide_quotes_is_in_a_results_file() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut results = BTreeSet::new();
    for entry in fs::read_dir(root.join("docs/results")).expect("docs/results is readable") {
        let path = entry.expect("a readable docs/results entry").path();
        if path.extension().is_some_and(|e| e == "md") {
            let text = fs::read_to_string(&path).expect("a readable results file");
            results.extend(text.lines().map(str::to_owned));
        }
    }
    for doc in ["docs/concepts.md", "docs/zh/concepts.md"] {
        let text = fs::read_to_string(root.join(doc)).unwrap_or_else(|e| panic!("{doc}: {e}"));
        let quoted = quoted_lines(&text);
        // The stall reports of section 5 at least.
        assert!(
            quoted.iter().any(|l| l.starts_with("corio: ")),
            "{doc} quotes no stall report"
        );
        let missing: Vec<&str> = quoted
            .into_iter()
            .filter(|line| !results.contains(*line))
            .collect();
        assert!(
            missing.is_empty(),
            "{doc}: quoted lines found in no docs/results file (copy them from the results, or \
             rerun scripts/results.sh):\n{}",
            missing.join("\n")
        );
    }
}

#[test]
fn quoted_lines_are_those_of_text_blocks() {
    let text = "a\n```text\nquoted\n```\nb\n```sh\ncommand\n```\n";
    assert_eq!(quoted_lines(text), ["quoted"]);
}

#[test]
fn numbers_are_read_as_the_docs_write_them() {
    assert_eq!(
        numbers("1,000 hand-offs, 3.97 ns, 79x."),
        ["1000", "3.97", "79"]
    );
    assert_eq!(numbers("v2 and x86_64 are names, 4.5 KiB is not"), ["4.5"]);
    assert_eq!(numbers("(38.6 ms)"), ["38.6"]);
}

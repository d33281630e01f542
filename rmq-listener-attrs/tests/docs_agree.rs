//! The macro's documentation lists every attribute of the table, with its default, and nothing else.

use rmq_listener_attrs::{Kind, ATTRS};

fn attribute_rows() -> Vec<(Vec<String>, String)> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../rmq-macros/docs/rocketmq_listener.md"
    );
    let doc = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let section = doc
        .split("# Attributes")
        .nth(1)
        .and_then(|s| s.split("\n# ").next())
        .expect("an `# Attributes` section");
    section
        .lines()
        .filter(|l| l.starts_with("| `"))
        .map(|l| {
            let first = l.split('|').nth(1).unwrap_or_default();
            let keys = first
                .split('`')
                .skip(1)
                .step_by(2)
                .map(str::to_string)
                .collect();
            (keys, l.to_string())
        })
        .collect()
}

#[test]
fn every_attribute_is_documented_with_its_default_and_kind() {
    let rows = attribute_rows();
    for a in ATTRS {
        let (_, row) = rows
            .iter()
            .find(|(keys, _)| keys.iter().any(|k| k == a.key))
            .unwrap_or_else(|| panic!("`{}` has no row in the macro docs' attribute table", a.key));
        if let Some(d) = a.default {
            let shown = match a.kind {
                Kind::Str | Kind::Enum(_) => format!("`\"{d}\"`"),
                _ => format!("`{d}`"),
            };
            assert!(
                row.contains(&shown),
                "row of `{}` does not show its default {shown}: {row}",
                a.key
            );
        }
        if let Kind::Int { min } = a.kind {
            assert!(
                row.contains(&format!("≥ {min}")),
                "row of `{}` does not show its minimum: {row}",
                a.key
            );
        }
        if let Kind::Enum(values) = a.kind {
            for v in values {
                assert!(
                    row.contains(&format!("\"{v}\"")),
                    "row of `{}` does not list {v}: {row}",
                    a.key
                );
            }
        }
        for alias in a.aliases {
            assert!(
                row.contains(&format!("`{alias}`")),
                "row of `{}` does not name alias `{alias}`",
                a.key
            );
        }
        assert!(
            row.contains(&format!("`{}`", a.spring)),
            "row of `{}` does not give Spring's name `{}`",
            a.key,
            a.spring
        );
    }
    for (keys, _) in &rows {
        let key = &keys[0];
        assert!(
            key == "crate" || ATTRS.iter().any(|a| a.key == key),
            "the docs describe `{key}`, which the table does not have"
        );
    }
}

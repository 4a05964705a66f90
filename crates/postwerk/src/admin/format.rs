//! Text layout shared by the admin commands: aligned columns, labelled fields, dates and
//! sizes as a person reads them.

use chrono::DateTime;
use postwerk_model::Permissions;

/// Rows as aligned columns, two spaces apart; the last column is not padded.
pub fn table(rows: &[Vec<String>]) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            rows.iter()
                .filter_map(|row| row.get(c))
                .map(|cell| cell.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    rows.iter()
        .map(|row| {
            let mut line = String::new();
            for (c, cell) in row.iter().enumerate() {
                if c + 1 == row.len() {
                    line.push_str(cell);
                } else {
                    line.push_str(&format!("{cell:<width$}  ", width = widths[c]));
                }
            }
            line.trim_end().to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// `label  value` lines with the values aligned; a value of several lines keeps its
/// continuation lines under the first.
pub fn fields(pairs: &[(&str, String)]) -> String {
    let width = pairs
        .iter()
        .map(|(label, _)| label.chars().count())
        .max()
        .unwrap_or(0);
    let indent = " ".repeat(width + 2);
    pairs
        .iter()
        .map(|(label, value)| {
            let value = value.replace('\n', &format!("\n{indent}"));
            format!("{label:<width$}  {value}")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// `items` joined with commas, or `none` when there are none.
pub fn list_or(items: &[String], none: &str) -> String {
    if items.is_empty() {
        none.to_string()
    } else {
        items.join(", ")
    }
}

/// Unix seconds as `2025-06-01 12:00 UTC`.
pub fn date(unix: i64) -> String {
    DateTime::from_timestamp(unix, 0)
        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_else(|| unix.to_string())
}

/// A size in octets with a decimal unit for people (`12.3 MB`).
pub fn size(octets: u64) -> String {
    const UNITS: [&str; 4] = ["kB", "MB", "GB", "TB"];
    if octets < 1000 {
        return format!("{octets} octets");
    }
    // Display only: the precision a float loses does not show at one decimal.
    let mut value = octets as f64 / 1000.0;
    let mut unit = UNITS[0];
    for next in &UNITS[1..] {
        if value < 1000.0 {
            break;
        }
        value /= 1000.0;
        unit = next;
    }
    format!("{value:.1} {unit}")
}

/// Permission names as the CLI and the API write them.
pub fn permissions(permissions: Permissions) -> String {
    list_or(
        &permissions
            .names()
            .into_iter()
            .map(String::from)
            .collect::<Vec<_>>(),
        "none",
    )
}

/// Parses an optional `--permissions` list (ADDR-9).
pub fn parse_permissions(list: Option<&str>) -> anyhow::Result<Option<Permissions>> {
    Ok(match list {
        Some(list) => Some(Permissions::parse_list(list)?),
        None => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_aligns_every_column_but_the_last() {
        let rows = vec![
            vec!["a@example.com".to_string(), "owner".into(), "Ann".into()],
            vec!["bob@example.com".to_string(), "member".into(), "".into()],
        ];
        assert_eq!(
            table(&rows),
            "a@example.com    owner   Ann\nbob@example.com  member"
        );
    }

    #[test]
    fn fields_keep_continuation_lines_under_the_value() {
        let text = fields(&[("name", "Toto".into()), ("access", "a\nb".into())]);
        assert_eq!(text, "name    Toto\naccess  a\n        b");
    }

    #[test]
    fn sizes_and_dates_read_as_people_write_them() {
        assert_eq!(size(999), "999 octets");
        assert_eq!(size(12_345_678), "12.3 MB");
        assert_eq!(size(2_000_000_000_000), "2.0 TB");
        assert_eq!(date(0), "1970-01-01 00:00 UTC");
    }
}

//! YAML in tests, read with yaml-rust2 (the reader prflow's own workflow parser is
//! built on) into `serde_json::Value`s, so assertions index it like JSON.

use serde_json::{Map, Number, Value};
use yaml_rust2::{Yaml, YamlLoader};

/// Every document of a YAML stream; empty documents are left out.
pub fn docs(text: &str) -> Result<Vec<Value>, String> {
    let docs = YamlLoader::load_from_str(text).map_err(|e| e.to_string())?;
    Ok(docs.iter().map(to_json).filter(|d| !d.is_null()).collect())
}

/// The first document of a YAML text (`Null` for an empty one).
pub fn one(text: &str) -> Result<Value, String> {
    Ok(docs(text)?.into_iter().next().unwrap_or(Value::Null))
}

fn to_json(y: &Yaml) -> Value {
    match y {
        Yaml::Null | Yaml::BadValue => Value::Null,
        Yaml::Boolean(b) => Value::Bool(*b),
        Yaml::Integer(i) => Value::from(*i),
        Yaml::Real(r) => r
            .parse::<f64>()
            .ok()
            .and_then(Number::from_f64)
            .map(Value::Number)
            .unwrap_or_else(|| Value::String(r.clone())),
        Yaml::String(s) => Value::String(s.clone()),
        Yaml::Array(a) => Value::Array(a.iter().map(to_json).collect()),
        Yaml::Hash(h) => Value::Object(
            h.iter()
                .map(|(k, v)| {
                    let key = match to_json(k) {
                        Value::String(s) => s,
                        other => other.to_string(),
                    };
                    (key, to_json(v))
                })
                .collect::<Map<String, Value>>(),
        ),
        Yaml::Alias(_) => Value::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_and_scalars_read_as_json() {
        let d = docs("a: 1\nb: [true, 1.5, x]\n---\n---\non: {push: null}\n").unwrap();
        assert_eq!(d.len(), 2);
        assert_eq!(d[0], serde_json::json!({"a": 1, "b": [true, 1.5, "x"]}));
        assert_eq!(d[1]["on"]["push"], Value::Null);
        assert!(docs("a: [").is_err());
    }
}

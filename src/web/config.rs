//! The JavaScript config object → the core's `Config` plus the shell's own
//! settings. Every key is checked: unknown names (typos) and wrong types are
//! refused with the field's name, never ignored.

use js_sys::{Object, Reflect};
use wasm_bindgen::{JsCast, JsValue};

use super::storage::StoragePreference;
use crate::core::{Config, ConfigError};

/// Everything `createAnalytics` accepts.
pub struct Settings {
    pub core: Config,
    pub storage: StoragePreference,
    /// Gzip fetch bodies (`compression: "gzip"`); off by default because
    /// not every collector accepts `Content-Encoding: gzip`.
    pub compress: bool,
    /// Log each queue decision through the `debug` channel (`debug: true`).
    pub debug: bool,
}

/// Largest integer a JS number holds exactly.
const MAX_SAFE_INTEGER: f64 = 9_007_199_254_740_991.0;

fn describe(value: &JsValue) -> String {
    js_sys::JSON::stringify(value)
        .ok()
        .and_then(|text| text.as_string())
        .unwrap_or_else(|| String::from(js_sys::JsString::from(value.clone())))
}

fn wrong_type(field: &str, expected: &'static str, value: &JsValue) -> ConfigError {
    ConfigError::WrongType {
        field: field.to_string(),
        expected,
        got: describe(value),
    }
}

fn string_field(field: &str, value: &JsValue) -> Result<String, ConfigError> {
    value
        .as_string()
        .ok_or_else(|| wrong_type(field, "a string", value))
}

pub fn settings_from_js(value: &JsValue) -> Result<Settings, ConfigError> {
    if !value.is_object() {
        return Err(wrong_type("config", "an object", value));
    }
    let mut settings = Settings {
        core: Config::default(),
        storage: StoragePreference::Auto,
        compress: false,
        debug: false,
    };
    let object: &Object = value.unchecked_ref();
    for key in Object::keys(object).iter() {
        let name = key.as_string().unwrap_or_default();
        let field = Reflect::get(value, &key).unwrap_or(JsValue::UNDEFINED);
        if field.is_undefined() {
            continue;
        }
        match name.as_str() {
            "endpoint" => settings.core.endpoint = string_field(&name, &field)?,
            "writeKey" => settings.core.write_key = Some(string_field(&name, &field)?),
            "storage" => {
                settings.storage = match string_field(&name, &field)?.as_str() {
                    "auto" | "indexeddb" => StoragePreference::Auto,
                    "localstorage" => StoragePreference::LocalStorage,
                    "memory" => StoragePreference::Memory,
                    _ => {
                        return Err(wrong_type(
                            &name,
                            "one of \"auto\", \"indexeddb\", \"localstorage\", \"memory\"",
                            &field,
                        ))
                    }
                }
            }
            "compression" => {
                settings.compress = match string_field(&name, &field)?.as_str() {
                    "gzip" => true,
                    "none" => false,
                    _ => return Err(wrong_type(&name, "one of \"gzip\", \"none\"", &field)),
                }
            }
            "debug" => {
                settings.debug = field
                    .as_bool()
                    .ok_or_else(|| wrong_type(&name, "a boolean", &field))?
            }
            _ => {
                let number = field
                    .as_f64()
                    .filter(|n| n.fract() == 0.0 && (0.0..=MAX_SAFE_INTEGER).contains(n));
                match number {
                    Some(number) => settings.core.set_numeric(&name, number as u64)?,
                    None if crate::core::config::NUMERIC_FIELDS
                        .iter()
                        .any(|f| f.name == name) =>
                    {
                        return Err(wrong_type(&name, "a non-negative integer", &field))
                    }
                    None => return Err(ConfigError::UnknownField { name }),
                }
            }
        }
    }
    settings.core.validate()?;
    Ok(settings)
}

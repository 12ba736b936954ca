//! Which keys a config type accepts and what each holds, read from the type's
//! own serde derive, so the strict checker (`keys.rs`) cannot drift from it.
//!
//! Why this design, and not a hand-kept table beside a test: a probe
//! deserializer walks the type once, answers every request with a placeholder
//! and notes what was asked. `deserialize_struct` hands over serde's own field
//! list (renames applied, skipped fields left out), `deserialize_u16` says «a
//! number up to 65535», `deserialize_seq` «a list», an internally tagged enum
//! names its kinds when refusing an empty one. A required key is one whose
//! absence serde reports as a missing field, tried one key at a time. So a
//! field added to `Config` is known, with its type and whether it may be left
//! out, in the same commit — there is no second list to forget. The other
//! designs keep two lists: a macro repeating every field list, or hand tables
//! compared with a fully populated config serialised to TOML (which would also
//! need a Serialize derive only for the test).
//!
//! Limits, each guarded by a test that the config holds no `Unknown`: floats,
//! maps, tuples and non-tagged enums are not read (the checker would accept any
//! value there and leave it to serde); `#[serde(flatten)]` makes serde ask for a
//! map without naming the fields, so config types do not use it.

use serde::de::{
    self, DeserializeOwned, DeserializeSeed, Deserializer, IntoDeserializer, MapAccess, SeqAccess, Visitor,
};

/// What a key holds.
#[derive(Debug, Clone, PartialEq)]
pub enum Shape {
    Bool,
    /// A whole number up to `max` (no setting is negative).
    Integer {
        max: u64,
    },
    Text,
    List(Box<Shape>),
    Table(Vec<Field>),
    /// Tables told apart by their `kind` (serde's internally tagged enum), with the kinds serde knows.
    Tagged(&'static [&'static str]),
    /// A type the probe cannot read.
    Unknown,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    pub name: &'static str,
    pub shape: Shape,
    /// serde refuses the table without it.
    pub required: bool,
}

/// The keys of a struct type, nested tables included.
pub fn table<T: DeserializeOwned>() -> Vec<Field> {
    let mut shape = Shape::Unknown;
    // The placeholder values may not make a valid `T` (a required table left
    // empty); what was asked on the way is the answer.
    let _ = T::deserialize(Probe { slot: &mut shape, omit: &[] });
    let Shape::Table(mut fields) = shape else { return Vec::new() };
    mark_required::<T>(&mut fields, &mut Vec::new());
    fields
}

/// Leaves each key out in turn (at any depth) and asks serde whether it missed it.
fn mark_required<T: DeserializeOwned>(fields: &mut [Field], path: &mut Vec<&'static str>) {
    for field in fields {
        path.push(field.name);
        let mut scratch = Shape::Unknown;
        field.required = matches!(
            T::deserialize(Probe { slot: &mut scratch, omit: path }),
            Err(Stop { missing: Some(m), .. }) if m == field.name
        );
        match &mut field.shape {
            Shape::Table(inner) => mark_required::<T>(inner, path),
            // A list of tables (`[[sla]]`): the probe's one item is asked the same way.
            Shape::List(item) => {
                if let Shape::Table(inner) = &mut **item {
                    mark_required::<T>(inner, path);
                }
            }
            _ => {}
        }
        path.pop();
    }
}

/// Why the probe stopped: the only errors worth reading are serde's own.
#[derive(Debug, Default)]
struct Stop {
    missing: Option<&'static str>,
    kinds: Option<&'static [&'static str]>,
}

impl std::fmt::Display for Stop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("config probe")
    }
}

impl std::error::Error for Stop {}

impl de::Error for Stop {
    fn custom<T: std::fmt::Display>(_: T) -> Self {
        Stop::default()
    }

    fn missing_field(field: &'static str) -> Self {
        Stop { missing: Some(field), kinds: None }
    }

    fn unknown_variant(_: &str, expected: &'static [&'static str]) -> Self {
        Stop { missing: None, kinds: Some(expected) }
    }
}

/// Notes in `slot` what the value's type asks for; `omit` is the path of the
/// one key to leave out, relative to this value.
struct Probe<'s, 'o> {
    slot: &'s mut Shape,
    omit: &'o [&'static str],
}

macro_rules! integers {
    ($($method:ident: $t:ty),*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Stop> {
            *self.slot = Shape::Integer { max: <$t>::MAX as u64 };
            visitor.visit_u64(1)
        }
    )*};
}

impl<'de> Deserializer<'de> for Probe<'_, '_> {
    type Error = Stop;

    /// Only an internally tagged enum should ask this: it is given its tag,
    /// `kind`, empty, and names the kinds it knows in its refusal.
    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Stop> {
        let result = visitor.visit_map(Tag { given: false });
        *self.slot = match &result {
            Err(Stop { kinds: Some(kinds), .. }) => Shape::Tagged(kinds),
            _ => Shape::Unknown,
        };
        result
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Stop> {
        *self.slot = Shape::Bool;
        visitor.visit_bool(false)
    }

    integers!(deserialize_u8: u8, deserialize_u16: u16, deserialize_u32: u32, deserialize_u64: u64,
        deserialize_i8: i8, deserialize_i16: i16, deserialize_i32: i32, deserialize_i64: i64);

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Stop> {
        *self.slot = Shape::Text;
        visitor.visit_str("")
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Stop> {
        self.deserialize_str(visitor)
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Stop> {
        self.deserialize_str(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Stop> {
        visitor.visit_some(self)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(self, _: &'static str, visitor: V) -> Result<V::Value, Stop> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Stop> {
        let mut item = Shape::Unknown;
        let result = visitor.visit_seq(One { slot: Some(&mut item), omit: self.omit });
        *self.slot = Shape::List(Box::new(item));
        result
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        names: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Stop> {
        let mut found = Vec::new();
        let result = visitor.visit_map(Fields { names, next: 0, omit: self.omit, found: &mut found });
        // Every name serde declared, even past a value the probe could not make.
        for name in names {
            if !found.iter().any(|f: &Field| f.name == *name) {
                found.push(Field { name, shape: Shape::Unknown, required: false });
            }
        }
        *self.slot = Shape::Table(found);
        result
    }

    serde::forward_to_deserialize_any! {
        i128 u128 f32 f64 char bytes byte_buf unit unit_struct tuple tuple_struct map enum ignored_any
    }
}

/// A struct's fields, each given once with a placeholder value.
struct Fields<'f, 'o> {
    names: &'static [&'static str],
    next: usize,
    omit: &'o [&'static str],
    found: &'f mut Vec<Field>,
}

impl<'de> MapAccess<'de> for Fields<'_, '_> {
    type Error = Stop;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, Stop> {
        while let Some(name) = self.names.get(self.next) {
            if self.omit == [*name] {
                self.next += 1;
                continue;
            }
            return seed.deserialize((*name).into_deserializer()).map(Some);
        }
        Ok(None)
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value, Stop> {
        let name = *self.names.get(self.next).ok_or_else(Stop::default)?;
        self.next += 1;
        let omit = match self.omit.split_first() {
            Some((first, rest)) if *first == name => rest,
            _ => &[],
        };
        let mut shape = Shape::Unknown;
        let result = seed.deserialize(Probe { slot: &mut shape, omit });
        self.found.push(Field { name, shape, required: false });
        result
    }
}

/// A list of one placeholder item.
struct One<'s, 'o> {
    slot: Option<&'s mut Shape>,
    omit: &'o [&'static str],
}

impl<'de> SeqAccess<'de> for One<'_, '_> {
    type Error = Stop;

    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>, Stop> {
        let Some(slot) = self.slot.take() else { return Ok(None) };
        match seed.deserialize(Probe { slot, omit: self.omit }) {
            Ok(item) => Ok(Some(item)),
            Err(e) if e.missing.is_some() => Err(e),
            // An item the placeholders cannot make (a tagged table) leaves the
            // list empty; its shape is noted all the same.
            Err(_) => Ok(None),
        }
    }
}

/// `kind = ""` and nothing else.
struct Tag {
    given: bool,
}

impl<'de> MapAccess<'de> for Tag {
    type Error = Stop;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, Stop> {
        if std::mem::replace(&mut self.given, true) {
            return Ok(None);
        }
        seed.deserialize("kind".into_deserializer()).map(Some)
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value, Stop> {
        seed.deserialize("".into_deserializer())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[allow(dead_code)]
    #[derive(Deserialize)]
    struct Inner {
        host: String,
        port: u16,
        #[serde(default)]
        tls: Option<String>,
    }

    #[allow(dead_code)]
    #[derive(Deserialize)]
    #[serde(tag = "kind", rename_all = "lowercase")]
    enum Kinds {
        One(Inner),
        Two(Inner),
    }

    #[allow(dead_code)]
    #[derive(Deserialize)]
    struct Outer {
        #[serde(rename = "renamed")]
        name: String,
        #[serde(default)]
        flag: bool,
        list: Option<Vec<String>>,
        inner: Inner,
        #[serde(default)]
        items: Vec<Kinds>,
        #[serde(skip)]
        hidden: u8,
        undo: i64,
    }

    #[test]
    fn reads_names_types_and_required_keys_from_serde() {
        let fields = table::<Outer>();
        let get = |name: &str| fields.iter().find(|f| f.name == name).cloned();
        assert_eq!(
            fields.iter().map(|f| f.name).collect::<Vec<_>>(),
            ["renamed", "flag", "list", "inner", "items", "undo"]
        );
        assert_eq!(get("renamed").map(|f| (f.shape, f.required)), Some((Shape::Text, true)));
        assert_eq!(get("flag").map(|f| (f.shape, f.required)), Some((Shape::Bool, false)));
        assert_eq!(get("list").map(|f| (f.shape, f.required)), Some((Shape::List(Box::new(Shape::Text)), false)));
        assert_eq!(get("undo").map(|f| f.shape), Some(Shape::Integer { max: i64::MAX as u64 }));
        assert_eq!(get("items").map(|f| f.shape), Some(Shape::List(Box::new(Shape::Tagged(&["one", "two"])))));
        let Some(Field { shape: Shape::Table(inner), required: true, .. }) = get("inner") else {
            panic!("inner: {:?}", get("inner"))
        };
        let inner: Vec<_> = inner.iter().map(|f| (f.name, f.shape.clone(), f.required)).collect();
        assert_eq!(
            inner,
            [("host", Shape::Text, true), ("port", Shape::Integer { max: 65535 }, true), ("tls", Shape::Text, false)]
        );
    }
}

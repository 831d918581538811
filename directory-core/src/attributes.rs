//! [`Attributes`]: the attributes a provider sent beyond the standard ones.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

/// Attributes by name (Okta profile attribute, Graph property or extension,
/// SCIM attribute), each at most once, iterated in name order.
///
/// A map with the methods of a `BTreeMap<String, Value>` that a user's
/// handful of attributes needs, stored as one sorted vector of exactly the
/// entries' size: a B-tree allocates a node of eleven slots (over 600 bytes)
/// for a single entry, which for a million users is most of a gigabyte.
/// Lookups are binary searches. Serialized as a JSON object.
#[derive(Clone, PartialEq, Default)]
pub struct Attributes {
    entries: Vec<(String, Value)>,
}

impl Attributes {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// The number of attributes.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn find(&self, name: &str) -> Result<usize, usize> {
        self.entries.binary_search_by(|(k, _)| k.as_str().cmp(name))
    }

    /// The value of `name`.
    pub fn get(&self, name: &str) -> Option<&Value> {
        let i = self.find(name).ok()?;
        self.entries.get(i).map(|(_, v)| v)
    }

    /// The value of `name`, to change it in place.
    pub fn get_mut(&mut self, name: &str) -> Option<&mut Value> {
        let i = self.find(name).ok()?;
        self.entries.get_mut(i).map(|(_, v)| v)
    }

    /// Whether `name` is present.
    pub fn contains_key(&self, name: &str) -> bool {
        self.find(name).is_ok()
    }

    /// Sets `name` to `value`, returning the value it replaced.
    pub fn insert(&mut self, name: String, mut value: Value) -> Option<Value> {
        trim(&mut value);
        match self.find(&name) {
            Ok(i) => self
                .entries
                .get_mut(i)
                .map(|(_, v)| std::mem::replace(v, value)),
            Err(i) => {
                // Grow by one, not by doubling: most users carry a few
                // attributes and the map lives as long as the snapshot.
                self.entries.reserve_exact(1);
                self.entries.insert(i, (name, value));
                None
            }
        }
    }

    /// Removes `name`, returning its value.
    pub fn remove(&mut self, name: &str) -> Option<Value> {
        self.find(name).ok().map(|i| self.entries.remove(i).1)
    }

    /// Keeps only the attributes `keep` accepts.
    pub fn retain(&mut self, mut keep: impl FnMut(&str, &Value) -> bool) {
        self.entries.retain(|(k, v)| keep(k, v));
    }

    /// The attributes in name order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (&String, &Value)> + ExactSizeIterator {
        self.entries.iter().map(|(k, v)| (k, v))
    }

    /// The names, in order.
    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &String> + ExactSizeIterator {
        self.entries.iter().map(|(k, _)| k)
    }

    /// The values, in name order.
    pub fn values(&self) -> impl DoubleEndedIterator<Item = &Value> + ExactSizeIterator {
        self.entries.iter().map(|(_, v)| v)
    }

    /// Builds the map from entries in any order; where a name repeats, the
    /// last one wins (as with repeated `insert`).
    fn from_entries(mut entries: Vec<(String, Value)>) -> Self {
        // A stable sort keeps repeats in arrival order; the last is kept.
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        entries.dedup_by(|later, kept| {
            let same = later.0 == kept.0;
            if same {
                std::mem::swap(later, kept);
            }
            same
        });
        entries.shrink_to_fit();
        for (_, v) in &mut entries {
            trim(v);
        }
        Self { entries }
    }
}

/// Frees the spare room of arrays a parser grew by pushing (an array of one
/// string has room for four): attributes live as long as the snapshot.
fn trim(value: &mut Value) {
    match value {
        Value::Array(items) => {
            items.shrink_to_fit();
            items.iter_mut().for_each(trim);
        }
        Value::Object(map) => map.values_mut().for_each(trim),
        _ => {}
    }
}

/// Consistent with `==`: each name, and each value as the JSON text it is
/// written as (which tells apart whatever `Value`'s `==` does).
impl std::hash::Hash for Attributes {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.entries.len().hash(state);
        for (name, value) in &self.entries {
            name.hash(state);
            value.to_string().hash(state);
        }
    }
}

impl fmt::Debug for Attributes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl std::ops::Index<&str> for Attributes {
    type Output = Value;

    /// The value of `name`, or `Value::Null` if it is not present (as
    /// indexing a `serde_json::Value` does): never a panic.
    fn index(&self, name: &str) -> &Value {
        static NULL: Value = Value::Null;
        self.get(name).unwrap_or(&NULL)
    }
}

impl<K: Into<String>> FromIterator<(K, Value)> for Attributes {
    fn from_iter<I: IntoIterator<Item = (K, Value)>>(iter: I) -> Self {
        Self::from_entries(iter.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }
}

impl<K: Into<String>> Extend<(K, Value)> for Attributes {
    fn extend<I: IntoIterator<Item = (K, Value)>>(&mut self, iter: I) {
        let mut entries = std::mem::take(&mut self.entries);
        entries.extend(iter.into_iter().map(|(k, v)| (k.into(), v)));
        *self = Self::from_entries(entries);
    }
}

impl From<BTreeMap<String, Value>> for Attributes {
    fn from(map: BTreeMap<String, Value>) -> Self {
        // Already sorted and unique.
        let mut entries: Vec<(String, Value)> = map.into_iter().collect();
        entries.iter_mut().for_each(|(_, v)| trim(v));
        Self { entries }
    }
}

impl From<Attributes> for BTreeMap<String, Value> {
    fn from(attrs: Attributes) -> Self {
        attrs.entries.into_iter().collect()
    }
}

impl IntoIterator for Attributes {
    type Item = (String, Value);
    type IntoIter = std::vec::IntoIter<(String, Value)>;

    fn into_iter(self) -> Self::IntoIter {
        self.entries.into_iter()
    }
}

impl<'a> IntoIterator for &'a Attributes {
    type Item = (&'a String, &'a Value);
    type IntoIter = std::iter::Map<
        std::slice::Iter<'a, (String, Value)>,
        fn(&'a (String, Value)) -> (&'a String, &'a Value),
    >;

    fn into_iter(self) -> Self::IntoIter {
        fn split(e: &(String, Value)) -> (&String, &Value) {
            (&e.0, &e.1)
        }
        self.entries.iter().map(split)
    }
}

impl Serialize for Attributes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.len()))?;
        for (k, v) in &self.entries {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Attributes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Attributes;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object of attributes")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Attributes, A::Error> {
                let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(0).min(64));
                while let Some((k, v)) = map.next_entry::<String, Value>()? {
                    entries.push((k, v));
                }
                Ok(Attributes::from_entries(entries))
            }
        }
        d.deserialize_map(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn behaves_like_a_sorted_map() {
        let mut a = Attributes::new();
        assert_eq!(a.insert("zeta".into(), json!(1)), None);
        assert_eq!(a.insert("alpha".into(), json!("x")), None);
        assert_eq!(a.insert("mid".into(), json!([1, 2])), None);
        assert_eq!(a.insert("alpha".into(), json!("y")), Some(json!("x")));
        assert_eq!(a.len(), 3);
        assert_eq!(a.keys().collect::<Vec<_>>(), ["alpha", "mid", "zeta"]);
        assert_eq!(a["alpha"], "y");
        assert!(a.contains_key("mid"));
        assert_eq!(a.remove("mid"), Some(json!([1, 2])));
        assert_eq!(a.get("mid"), None);
        assert_eq!(a["mid"], Value::Null, "a missing name indexes to null");
        *a.get_mut("zeta").unwrap() = json!(2);
        assert_eq!(a["zeta"], 2);
        a.retain(|k, _| k != "zeta");
        assert_eq!(a.len(), 1);
    }

    #[test]
    fn json_round_trips_as_an_object_and_the_last_repeat_wins() {
        let a: Attributes = serde_json::from_str(r#"{"b": 1, "a": null, "b": 2}"#).unwrap();
        assert_eq!(a.len(), 2);
        assert_eq!(a["b"], 2);
        assert_eq!(serde_json::to_string(&a).unwrap(), r#"{"a":null,"b":2}"#);
        let collected: Attributes = [("k", json!(1)), ("j", json!(2)), ("k", json!(3))]
            .into_iter()
            .collect();
        assert_eq!(collected["k"], 3);
        assert_eq!(
            format!("{collected:?}"),
            r#"{"j": Number(2), "k": Number(3)}"#
        );
    }

    #[test]
    fn arrays_keep_no_spare_room() {
        let mut grown = Vec::with_capacity(16);
        grown.push(json!("SMTP:ada@acme.test"));
        let mut a = Attributes::new();
        a.insert("proxyAddresses".into(), Value::Array(grown));
        let parsed: Attributes = serde_json::from_str(r#"{"nested": {"list": ["x"]}}"#).unwrap();
        for (value, path) in [(&a["proxyAddresses"], ""), (&parsed["nested"], "list")] {
            let list = if path.is_empty() { value } else { &value[path] };
            let Value::Array(items) = list else {
                panic!("not an array: {list}")
            };
            assert_eq!(items.capacity(), items.len());
        }
    }

    #[test]
    fn converts_from_and_to_a_btree_map() {
        let map: BTreeMap<String, Value> =
            [("x".to_string(), json!(true)), ("a".to_string(), json!(0))].into();
        let a = Attributes::from(map.clone());
        assert_eq!(a.keys().collect::<Vec<_>>(), ["a", "x"]);
        assert_eq!(BTreeMap::from(a), map);
    }
}

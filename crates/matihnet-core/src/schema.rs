//! What a provider says about each resource type: its attributes and how changes to them apply.

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum AttributeKind {
    /// The configuration must set it.
    Required,
    /// The configuration may set it; when it does not, the provider's value is not drift.
    Optional,
    /// Only the provider sets it (ids, name servers, addresses).
    Computed,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AttributeSchema {
    pub name: String,
    pub kind: AttributeKind,
    /// A change cannot be applied in place: the object is destroyed and created again.
    pub force_new: bool,
    /// Shown as `(sensitive value)` in plans and output.
    pub sensitive: bool,
    /// A map whose new keys apply in place, while a changed or removed key forces replacement
    /// (GKE secondary ranges: added in place, never edited).
    pub grow_only: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ResourceSchema {
    pub type_name: String,
    pub attributes: Vec<AttributeSchema>,
}

impl ResourceSchema {
    pub fn new(type_name: impl Into<String>) -> Self {
        ResourceSchema {
            type_name: type_name.into(),
            attributes: Vec::new(),
        }
    }

    /// Declares `name`; declaring it again replaces the earlier rule in place, so a provider
    /// can tighten a rule of a base schema (a rename that forces replacement, say).
    fn with(mut self, name: &str, kind: AttributeKind, force_new: bool) -> Self {
        let attribute = AttributeSchema {
            name: name.to_string(),
            kind,
            force_new,
            sensitive: false,
            grow_only: false,
        };
        match self.attributes.iter_mut().find(|a| a.name == name) {
            Some(existing) => *existing = attribute,
            None => self.attributes.push(attribute),
        }
        self
    }

    /// Drops `name`, for a provider whose mapping removes an attribute of a base schema.
    pub fn without(mut self, name: &str) -> Self {
        self.attributes.retain(|a| a.name != name);
        self
    }

    pub fn required(self, name: &str) -> Self {
        self.with(name, AttributeKind::Required, false)
    }

    pub fn required_force_new(self, name: &str) -> Self {
        self.with(name, AttributeKind::Required, true)
    }

    pub fn optional(self, name: &str) -> Self {
        self.with(name, AttributeKind::Optional, false)
    }

    pub fn optional_force_new(self, name: &str) -> Self {
        self.with(name, AttributeKind::Optional, true)
    }

    /// An optional map that grows in place; see [`AttributeSchema::grow_only`].
    pub fn optional_grow_only(mut self, name: &str) -> Self {
        self = self.with(name, AttributeKind::Optional, true);
        if let Some(a) = self.attributes.iter_mut().find(|a| a.name == name) {
            a.grow_only = true;
        }
        self
    }

    pub fn computed(self, name: &str) -> Self {
        self.with(name, AttributeKind::Computed, false)
    }

    pub fn sensitive(mut self, name: &str) -> Self {
        if let Some(a) = self.attributes.iter_mut().find(|a| a.name == name) {
            a.sensitive = true;
        }
        self
    }

    pub fn attribute(&self, name: &str) -> Option<&AttributeSchema> {
        self.attributes.iter().find(|a| a.name == name)
    }
}

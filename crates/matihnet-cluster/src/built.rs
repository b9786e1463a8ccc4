//! What apply built, as the state records it: each resource's attributes by address, read with
//! errors that name the address and attribute that are missing.

use std::collections::BTreeMap;

use matihnet_core::neutral::NeutralKind;
use matihnet_core::{Address, Attrs, Value};

use crate::RenderError;

#[derive(Debug, Clone, Default)]
pub struct Built {
    resources: BTreeMap<Address, Attrs>,
}

impl Built {
    pub fn new(resources: impl IntoIterator<Item = (Address, Attrs)>) -> Built {
        Built {
            resources: resources.into_iter().collect(),
        }
    }

    pub(crate) fn get(&self, kind: NeutralKind, name: &str) -> Result<Object<'_>, RenderError> {
        let address = kind.address(name);
        match self.resources.get(&address) {
            Some(attrs) => Ok(Object { address, attrs }),
            None => Err(RenderError::MissingResource {
                address: address.to_string(),
            }),
        }
    }
}

/// One recorded resource.
pub(crate) struct Object<'a> {
    address: Address,
    attrs: &'a Attrs,
}

impl Object<'_> {
    fn missing(&self, attribute: &str) -> RenderError {
        RenderError::MissingAttribute {
            address: self.address.to_string(),
            attribute: attribute.to_string(),
        }
    }

    pub(crate) fn text(&self, attribute: &str) -> Result<String, RenderError> {
        match self.attrs.get(attribute).and_then(Value::as_str) {
            Some(s) if !s.is_empty() => Ok(s.to_string()),
            _ => Err(self.missing(attribute)),
        }
    }

    pub(crate) fn texts(&self, attribute: &str) -> Result<Vec<String>, RenderError> {
        let list = self
            .attrs
            .get(attribute)
            .and_then(Value::as_list)
            .ok_or_else(|| self.missing(attribute))?;
        let texts: Vec<String> = list
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect();
        if texts.is_empty() || texts.len() != list.len() {
            return Err(self.missing(attribute));
        }
        Ok(texts)
    }
}

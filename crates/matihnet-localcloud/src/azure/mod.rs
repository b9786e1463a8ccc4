//! The local Azure Resource Manager (being written).

use std::sync::Arc;

use axum::Router;

use crate::Options;

pub struct Cloud {
    #[allow(dead_code)]
    options: Options,
}

impl Cloud {
    pub fn new(options: Options) -> Cloud {
        Cloud { options }
    }

    pub fn snapshot(&self) -> serde_json::Value {
        serde_json::Value::Null
    }

    pub fn restore(&self, _snapshot: serde_json::Value) -> Result<(), String> {
        Ok(())
    }
}

pub fn router(_cloud: Arc<Cloud>) -> Router {
    Router::new()
}

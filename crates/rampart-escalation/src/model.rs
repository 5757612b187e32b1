//! placeholder
use crate::intents::Intent;
#[derive(Debug)]
pub struct Model;
impl Model {
    pub fn scores(&self, _text: &str) -> [f32; 7] {
        [0.0; 7]
    }
    pub fn threshold(&self, _intent: Intent) -> f32 {
        1.0
    }
}
pub fn built_in() -> Option<&'static Model> {
    None
}

//! Model supply chain: scan model files for code that runs on load, and sign
//! and verify them, before anyone loads a downloaded model.

//! Evaluation harness: measures detectors on labelled data and tests endpoints
//! for robustness, repeatability and fairness.

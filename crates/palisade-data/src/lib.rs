//! Dataset governance: scanning datasets for personal data, anonymising them,
//! signing integrity manifests and checking quality, fairness and poisoning.

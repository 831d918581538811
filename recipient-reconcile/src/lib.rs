//! `recipient-reconcile`: being built; see the issue tracker.

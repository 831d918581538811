//! `azure-directory`: being built; see the issue tracker.

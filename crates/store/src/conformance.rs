//! The store test suite, written once and run against every backend.
//!
//! A backend crate provides a [`Fixture`] (a fresh, migrated, empty database per
//! test) and invokes [`conformance_tests!`](crate::conformance_tests) in one of its
//! integration tests; every test below then runs against that backend.

use std::sync::Arc;

use crate::Store;

/// A fresh, empty, migrated database for one test, and how to clean it up.
pub trait Fixture: Sized + Send {
    /// Create the database, migrate it and open a store on it.
    fn create() -> impl Future<Output = Self> + Send;
    /// The store under test.
    fn store(&self) -> Arc<dyn Store>;
    /// Open a second store on the same database, as a restarted process would
    /// (migrations run again at its boot).
    fn reopen(&self) -> impl Future<Output = Arc<dyn Store>> + Send;
    /// Close the stores and remove the database.
    fn cleanup(self) -> impl Future<Output = ()> + Send;
}

/// Generate one `#[tokio::test]` per conformance test for a backend's fixture.
#[macro_export]
macro_rules! conformance_tests {
    ($fixture:ty) => {
        $crate::conformance_tests!(@each $fixture;
            // The list of tests; each is an `async fn(&F)` in `keeper_store::conformance`.
            placeholder
        );
    };
    (@each $fixture:ty; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() {
                let fixture = <$fixture as $crate::conformance::Fixture>::create().await;
                $crate::conformance::$name(&fixture).await;
                $crate::conformance::Fixture::cleanup(fixture).await;
            }
        )*
    };
}

/// Stands in until the suite is written; proves the wiring of a backend.
pub async fn placeholder<F: Fixture>(fixture: &F) {
    fixture.store().health_check().await.expect("health check");
}

// `both!`: shared by tests/fs.rs and tests/process.rs (each includes it).

/// One `#[test]` per case and flavour: `CASE::std` runs it on std's
/// threads, `CASE::corio` inside a corio runtime.
macro_rules! both {
    ($($case:ident),* $(,)?) => {$(
        mod $case {
            #[test]
            fn std() {
                super::on_std::$case();
            }

            #[test]
            fn corio() {
                corio::run(super::on_corio::$case);
            }
        }
    )*};
}

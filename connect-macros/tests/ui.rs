//! Compile-time behaviour of the derives: every misuse is one error spanned on the offending
//! token (`ui/fail`, with reviewed `.stderr` snapshots), and correct uses compile and register
//! (`ui/pass`, which also run).

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.pass("tests/ui/pass/*.rs");
    cases.compile_fail("tests/ui/fail/*.rs");
}

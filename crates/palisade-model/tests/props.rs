#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Property tests: the parsers never panic, stay within their bounds, and
//! the walker reports exactly the imports that were assembled.

mod common;

use common::{Asm, ZipEntry, zip};
use palisade_model::pickle::{Limits, walk_bytes};
use palisade_model::scan::scan_bytes;
use palisade_model::{ScanOptions, Severity};
use proptest::prelude::*;

fn small_opts() -> ScanOptions {
    ScanOptions {
        max_buffered: 1 << 20,
        max_inflated: 4 << 20,
        ..ScanOptions::default()
    }
}

/// Opcode soup: real opcodes with small arguments, so the walker gets deep
/// into its state machine instead of failing on the first byte.
fn opcode_soup() -> impl Strategy<Value = Vec<u8>> {
    let op = prop_oneof![
        Just(vec![b'(']),
        Just(vec![b'N']),
        Just(vec![b')']),
        Just(vec![b']']),
        Just(vec![b'}']),
        Just(vec![b't']),
        Just(vec![b'l']),
        Just(vec![b'd']),
        Just(vec![b'a']),
        Just(vec![b'e']),
        Just(vec![b's']),
        Just(vec![b'u']),
        Just(vec![b'R']),
        Just(vec![b'b']),
        Just(vec![b'o']),
        Just(vec![b'0']),
        Just(vec![b'1']),
        Just(vec![b'2']),
        Just(vec![0x81]),
        Just(vec![0x85]),
        Just(vec![0x86]),
        Just(vec![0x87]),
        Just(vec![0x93]),
        Just(vec![0x94]),
        Just(vec![b'Q']),
        Just(b"cos\nsystem\n".to_vec()),
        Just(b"ccollections\nOrderedDict\n".to_vec()),
        Just(vec![0x8c, 2, b'o', b's']),
        Just(vec![0x8c, 6, b's', b'y', b's', b't', b'e', b'm']),
        any::<u8>().prop_map(|i| vec![b'q', i]),
        any::<u8>().prop_map(|i| vec![b'h', i]),
        any::<u8>().prop_map(|i| vec![b'K', i]),
        any::<u8>().prop_map(|c| vec![0x82, c]),
        any::<u8>().prop_map(|b| vec![b]),
    ];
    prop::collection::vec(op, 0..64).prop_map(|ops| {
        let mut v = vec![0x80, 4];
        for o in ops {
            v.extend(o);
        }
        v.push(b'.');
        v
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn walker_never_panics_on_random_bytes(data in prop::collection::vec(any::<u8>(), 0..512)) {
        let out = walk_bytes(&data, &Limits::default());
        prop_assert!(out.end <= data.len() as u64);
        prop_assert!(out.ops <= data.len() as u64);
    }

    #[test]
    fn walker_handles_opcode_soup(data in opcode_soup()) {
        let out = walk_bytes(&data, &Limits { max_stack: 32, max_memo: 16, ..Limits::default() });
        prop_assert!(out.end <= data.len() as u64);
        // Every import recorded lies inside the input.
        for imp in &out.imports {
            prop_assert!(imp.offset < data.len() as u64);
        }
    }

    #[test]
    fn stack_global_reports_the_assembled_name(
        module in "[a-z_][a-z0-9_]{0,12}(\\.[a-z_][a-z0-9_]{0,8}){0,2}",
        name in "[A-Za-z_][A-Za-z0-9_]{0,16}",
        via_memo in any::<bool>(),
    ) {
        let asm = if via_memo {
            Asm::new().proto(4).s(&module).binput(3).pop().s(&name).binput(9).pop().binget(3).binget(9)
        } else {
            Asm::new().proto(4).s(&module).s(&name)
        };
        let data = asm.stack_global().empty_tuple().reduce().stop().0;
        let out = walk_bytes(&data, &Limits::default());
        prop_assert!(out.error.is_none());
        prop_assert_eq!(out.imports.len(), 1);
        prop_assert_eq!(out.imports[0].qualified(), format!("{module}.{name}"));
        prop_assert!(out.imports[0].called);
    }

    #[test]
    fn scanner_never_panics_on_random_files(data in prop::collection::vec(any::<u8>(), 0..1024)) {
        let r = scan_bytes("p", &data, &small_opts());
        // Either it parsed (possibly with findings) or it reported an error.
        let _ = r.max_severity();
    }

    #[test]
    fn mutated_zips_never_panic_and_stay_bounded(
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..8),
    ) {
        let inner = zip(&[ZipEntry::new("x/data.pkl", &Asm::os_system())]);
        let mut z = zip(&[ZipEntry::new("a/data.pkl", &Asm::torch_state_dict()).deflated(), ZipEntry::new("n.zip", &inner).deflated()]);
        for (i, b) in flips {
            let at = i.index(z.len());
            z[at] = b;
        }
        let r = scan_bytes("z", &z, &small_opts());
        let _ = r.max_severity();
    }

    #[test]
    fn dangerous_payload_is_found_in_any_container_layer(depth in 0usize..3, deflate in any::<bool>(), name in "[a-z]{1,8}\\.[a-z]{2,4}") {
        let mut data = Asm::os_system();
        for _ in 0..depth {
            let e = ZipEntry::new(&name, &data);
            data = zip(&[if deflate { e.deflated() } else { e }]);
        }
        let r = scan_bytes("d", &data, &ScanOptions::default());
        prop_assert_eq!(r.max_severity(), Some(Severity::Critical));
    }
}

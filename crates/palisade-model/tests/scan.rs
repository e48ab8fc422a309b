#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Scanner behaviour on crafted inputs: bypass attempts, containers, bounds.

mod common;

use common::{Asm, ZipEntry, gguf, npy, onnx_external, safetensors, zip};
use palisade_model::pickle::{self, Limits};
use palisade_model::scan::{self, scan_bytes};
use palisade_model::{FileReport, ScanOptions, Severity};

fn scan(data: &[u8]) -> FileReport {
    scan_bytes("t", data, &ScanOptions::default())
}

fn constructs(r: &FileReport, at_least: Severity) -> Vec<String> {
    r.findings
        .iter()
        .filter(|f| f.severity >= at_least)
        .map(|f| f.construct.clone())
        .collect()
}

fn assert_flags(r: &FileReport, construct: &str, sev: Severity) {
    assert!(
        r.findings
            .iter()
            .any(|f| f.construct == construct && f.severity == sev),
        "expected {sev} {construct}, got {:#?} errors {:?}",
        r.findings,
        r.errors
    );
}

fn clean(r: &FileReport) {
    assert!(r.errors.is_empty(), "errors: {:?}", r.errors);
    assert!(
        constructs(r, Severity::Low).is_empty(),
        "findings: {:#?}",
        r.findings
    );
}

#[test]
fn protocol0_text_global_and_inst() {
    let p = Asm::new()
        .global("os", "system")
        .mark()
        .string0("id")
        .tuple()
        .reduce()
        .stop();
    assert_flags(&scan(&p.0), "os.system", Severity::Critical);
    let p = Asm::new()
        .mark()
        .string0("ls")
        .inst("subprocess", "check_output")
        .stop();
    assert_flags(&scan(&p.0), "subprocess.check_output", Severity::Critical);
    // Python 2 module names are normalised like the unpickler does.
    let p = Asm::new()
        .global("__builtin__", "eval")
        .mark()
        .unicode0("1")
        .tuple()
        .reduce()
        .stop();
    assert_flags(&scan(&p.0), "__builtin__.eval", Severity::Critical);
}

#[test]
fn stack_global_names_built_through_the_memo() {
    // Store harmless strings, then overwrite the memo slots with dangerous
    // ones: the last PUT wins, as in the real machine.
    let p = Asm::new()
        .proto(4)
        .s("collections")
        .binput(1)
        .pop()
        .s("OrderedDict")
        .binput(2)
        .pop()
        .s("os")
        .binput(1)
        .pop()
        .s("system")
        .binput(2)
        .pop()
        .binget(1)
        .binget(2)
        .stack_global()
        .s("id")
        .tuple1()
        .reduce()
        .stop();
    let r = scan(&p.0);
    assert_flags(&r, "os.system", Severity::Critical);
    assert!(!constructs(&r, Severity::Info).contains(&"collections.OrderedDict".to_string()));
}

#[test]
fn stack_global_with_memoize_and_protocol0_memo() {
    let p = Asm::new()
        .unicode0("posix")
        .put0(7)
        .pop()
        .unicode0("system")
        .put0(8)
        .pop()
        .get0(7)
        .get0(8)
        .stack_global()
        .mark()
        .unicode0("id")
        .tuple()
        .reduce()
        .stop();
    assert_flags(&scan(&p.0), "posix.system", Severity::Critical);
    let p = Asm::new()
        .proto(4)
        .s("builtins")
        .memoize()
        .s("exec")
        .memoize()
        .stack_global()
        .s("x")
        .tuple1()
        .reduce()
        .stop();
    assert_flags(&scan(&p.0), "builtins.exec", Severity::Critical);
}

#[test]
fn computed_stack_global_name_is_critical() {
    // The module name is the *result of a call* (e.g. str.join at load time).
    let p = Asm::new()
        .proto(4)
        .global("builtins", "str")
        .s("o")
        .tuple1()
        .reduce()
        .s("system")
        .stack_global()
        .s("id")
        .tuple1()
        .reduce()
        .stop();
    let r = scan(&p.0);
    assert!(
        r.findings
            .iter()
            .any(|f| f.construct == "computed_import" && f.severity == Severity::Critical),
        "{:#?}",
        r.findings
    );
}

#[test]
fn dotted_names_cannot_ride_the_allow_list() {
    let p = Asm::new()
        .proto(4)
        .s("collections")
        .s("OrderedDict.__init__.__globals__")
        .stack_global()
        .stop();
    assert_flags(
        &scan(&p.0),
        "collections.OrderedDict.__init__.__globals__",
        Severity::Critical,
    );
    let p = Asm::new()
        .proto(4)
        .s("torch")
        .s("utils.collect_env.run")
        .stack_global()
        .stop();
    assert_flags(
        &scan(&p.0),
        "torch.utils.collect_env.run",
        Severity::Critical,
    );
}

#[test]
fn allow_listed_state_dict_is_clean_and_unknown_is_high() {
    clean(&scan(&Asm::torch_state_dict()));
    let p = Asm::new()
        .proto(2)
        .global("mylib.models", "Net")
        .empty_tuple()
        .newobj()
        .empty_dict()
        .build()
        .stop();
    assert_flags(&scan(&p.0), "mylib.models.Net", Severity::High);
}

#[test]
fn ext_codes_and_obj_are_flagged() {
    let p = Asm::new().proto(2).ext1(7).empty_tuple().reduce().stop();
    assert_flags(&scan(&p.0), "<extension>.7", Severity::Critical);
    let p = Asm::new()
        .mark()
        .global("webbrowser", "open")
        .unicode0("http://x")
        .obj()
        .stop();
    assert_flags(&scan(&p.0), "webbrowser.open", Severity::Critical);
}

#[test]
fn pickle_nested_in_bytes_is_walked() {
    let inner = Asm::os_system();
    let p = Asm::new()
        .proto(3)
        .global("pickle", "loads")
        .bytes(&inner)
        .tuple1()
        .reduce()
        .stop();
    let r = scan(&p.0);
    assert_flags(&r, "pickle.loads", Severity::Critical);
    assert_flags(&r, "os.system", Severity::Critical);
}

#[test]
fn build_on_an_imported_object_is_flagged() {
    let p = Asm::new()
        .proto(2)
        .global("torch", "Tensor")
        .empty_dict()
        .build()
        .stop();
    assert!(
        scan(&p.0)
            .findings
            .iter()
            .any(|f| f.construct == "build_on_global")
    );
}

#[test]
fn parse_errors_fail_closed_but_keep_imports() {
    for bad in [
        &b"\x80\x02cos\nsystem\n"[..],   // no STOP
        b"\x80\x06N.",                   // protocol 6
        b"\x80\x02\xff.",                // invalid opcode
        b"\x80\x02.",                    // STOP on empty stack
        b"\x80\x02h\x05.",               // memo miss
        b"\x80\x02X\xff\xff\xff\x7fabc", // length past the end
        b"\x80\x02(N1N0u.",              // POP_MARK then SETITEMS without mark
    ] {
        let r = scan(bad);
        assert!(!r.errors.is_empty(), "{bad:?} should be a scan error");
    }
    let r = scan(b"\x80\x02cos\nsystem\n(");
    assert!(!r.errors.is_empty());
    assert_flags(&r, "os.system", Severity::Critical);
}

#[test]
fn trailing_bytes_and_sequences_of_pickles() {
    let mut d = Asm::new().proto(2).none().stop().0;
    d.extend(Asm::os_system());
    assert_flags(&scan(&d), "os.system", Severity::Critical);
    let mut d = Asm::new().proto(2).none().stop().0;
    d.extend(b"\n\n\t\t");
    let r = scan(&d);
    assert!(r.errors.is_empty());
    assert!(constructs(&r, Severity::Low).is_empty());
}

#[test]
fn legacy_torch_file_walks_its_five_pickles() {
    let magic = [
        0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e,
    ];
    let mut d = magic.to_vec();
    d.extend(Asm::new().proto(2).int(0xe9).stop().0);
    d.extend(Asm::new().proto(2).empty_dict().stop().0);
    d.extend(Asm::os_system());
    d.extend(Asm::new().proto(2).op(b']').stop().0);
    d.extend([0x80, 0x02, 0xff, 0xff, 0, 0, 0, 0]); // raw storage bytes follow
    let r = scan(&d);
    assert_flags(&r, "os.system", Severity::Critical);
    assert!(r.errors.is_empty(), "{:?}", r.errors);
}

#[test]
fn mislabelled_zip_entries_and_zip_quirks() {
    let evil = Asm::os_system();
    let cases = vec![
        vec![ZipEntry::new("weights.txt", &evil)],
        vec![ZipEntry::new("archive/data.pkl", &evil).deflated()],
        vec![ZipEntry {
            flags: 1,
            ..ZipEntry::new("model/config.pkl", &evil)
        }],
        vec![ZipEntry {
            flags: 0x40,
            ..ZipEntry::new("data.pkl", &evil)
        }],
        vec![ZipEntry {
            bad_crc: true,
            ..ZipEntry::new("data.pkl", &evil)
        }],
        vec![ZipEntry {
            local_name: Some("innocent.txt".into()),
            ..ZipEntry::new("data.pkl", &evil)
        }],
    ];
    for entries in cases {
        let r = scan(&zip(&entries));
        assert_flags(&r, "os.system", Severity::Critical);
    }
}

#[test]
fn entry_hidden_from_the_central_directory_is_found() {
    let z = zip(&[
        ZipEntry {
            hidden: true,
            ..ZipEntry::new("evil.pkl", &Asm::os_system())
        },
        ZipEntry::new("archive/data.pkl", &Asm::torch_state_dict()),
    ]);
    let r = scan(&z);
    assert_flags(&r, "os.system", Severity::Critical);
    assert!(r.findings.iter().any(|f| f.rule == "zip_hidden_entry"));
}

#[test]
fn nested_archives_and_depth_bound() {
    let inner = zip(&[ZipEntry::new("x/data.pkl", &Asm::os_system())]);
    let mid = zip(&[ZipEntry::new("inner.zip", &inner).deflated()]);
    let outer = zip(&[ZipEntry::new("mid.bin", &mid)]);
    let r = scan(&outer);
    assert_flags(&r, "os.system", Severity::Critical);
    assert!(
        r.findings
            .iter()
            .any(|f| f.location == "t!mid.bin!inner.zip!x/data.pkl"),
        "{:#?}",
        r.findings
    );

    let mut z = zip(&[ZipEntry::new("p.pkl", &Asm::os_system())]);
    for i in 0..6 {
        z = zip(&[ZipEntry::new(&format!("l{i}.zip"), &z)]);
    }
    let r = scan(&z);
    assert!(
        r.findings
            .iter()
            .any(|f| f.rule == "archive_too_deep" && f.severity == Severity::High)
    );
}

#[test]
fn zip_bomb_ratio_and_decompression_budget() {
    let e = ZipEntry {
        declared_size: Some(4_000_000_000),
        ..ZipEntry::new("big.pkl", &[0u8; 100]).deflated()
    };
    let r = scan(&zip(&[e]));
    assert!(
        r.findings.iter().any(|f| f.rule == "zip_bomb"),
        "{:#?}",
        r.findings
    );

    // 8 MiB of zeros compress to a few KB; with a 1 MiB buffer bound the
    // nested archive is refused instead of inflated.
    let inner = zip(&[ZipEntry::new("pad.bin", &vec![0u8; 8 << 20])]);
    let outer = zip(&[ZipEntry::new("inner.zip", &inner).deflated()]);
    let opts = ScanOptions {
        max_buffered: 1 << 20,
        ..ScanOptions::default()
    };
    let r = scan_bytes("t", &outer, &opts);
    assert!(
        r.errors.iter().any(|e| e.contains("limit")),
        "{:?}",
        r.errors
    );
}

#[test]
fn encrypted_entries_are_low_not_errors() {
    let e = ZipEntry {
        flags: 1,
        ..ZipEntry::new("secret.txt", &[0x13, 0x77, 0x99, 0x01, 0xaa])
    };
    let r = scan(&zip(&[e]));
    assert!(r.errors.is_empty());
    assert_eq!(r.max_severity(), Some(Severity::Low));
}

#[test]
fn numpy_object_arrays() {
    let obj = Asm::new()
        .proto(3)
        .global("numpy.core.multiarray", "_reconstruct")
        .global("numpy", "ndarray")
        .int(0)
        .tuple1()
        .bytes(b"b")
        .op(0x87)
        .reduce()
        .stop()
        .0;
    clean(&scan(&npy("|O", &obj)));
    assert_flags(
        &scan(&npy("|O", &Asm::os_system())),
        "os.system",
        Severity::Critical,
    );
    clean(&scan(&npy("<f8", &[0u8; 8])));
    let npz = zip(&[ZipEntry::new("a.npy", &npy("|O", &Asm::os_system())).deflated()]);
    assert_flags(&scan(&npz), "os.system", Severity::Critical);
}

#[test]
fn safetensors_checks() {
    let ok = safetensors(
        r#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"__metadata__":{"a":"b"}}"#,
        &[0u8; 8],
    );
    clean(&scan(&ok));
    let oob = safetensors(
        r#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,800]}}"#,
        &[0u8; 8],
    );
    assert!(
        scan(&oob)
            .findings
            .iter()
            .any(|f| f.rule == "safetensors_offsets")
    );
    let overlap = safetensors(
        r#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#,
        &[0u8; 8],
    );
    assert!(
        scan(&overlap)
            .findings
            .iter()
            .any(|f| f.rule == "safetensors_overlap")
    );
    let badjson = safetensors("{not json}", &[0u8; 8]);
    assert!(!scan(&badjson).errors.is_empty());
}

#[test]
fn gguf_headers_and_chat_templates() {
    let benign = "{% for m in messages %}{{ '<|' + m['role'] + '|>' + m['content'] }}{% endfor %}";
    clean(&scan(&gguf(&[
        ("general.name", "tiny"),
        ("tokenizer.chat_template", benign),
    ])));
    let evil = "{{ self.__init__.__globals__.__builtins__.__import__('os').popen('id').read() }}";
    let r = scan(&gguf(&[("tokenizer.chat_template", evil)]));
    assert!(
        r.findings
            .iter()
            .any(|f| f.rule == "gguf_chat_template" && f.severity == Severity::Critical)
    );
    let mut huge = gguf(&[("k", "v")]);
    huge.truncate(24);
    huge.extend(1u64.to_le_bytes());
    huge.extend(u64::MAX.to_le_bytes());
    assert!(!scan(&huge).errors.is_empty());
}

#[test]
fn onnx_external_data_paths() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, loc: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, onnx_external(loc)).unwrap();
        scan::scan_file(&p, &ScanOptions::default(), true)
    };
    std::fs::write(dir.path().join("w.bin"), [0u8; 8]).unwrap();
    clean(&write("ok.onnx", "w.bin"));
    assert_flags(
        &write("abs.onnx", "/etc/passwd"),
        "/etc/passwd",
        Severity::Critical,
    );
    assert_flags(
        &write("up.onnx", "../../etc/shadow"),
        "../../etc/shadow",
        Severity::Critical,
    );
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink("/etc/hostname", dir.path().join("link.bin")).unwrap();
        assert_flags(
            &write("link.onnx", "link.bin"),
            "link.bin",
            Severity::Critical,
        );
    }
}

#[test]
fn keras_lambda_layers() {
    let config = r#"{"class_name":"Sequential","config":{"layers":[{"class_name":"Lambda","config":{"function":{"class_name":"__lambda__","config":{"code":"4wEAAAAAAAAA"}}}}]}}"#;
    let z = zip(&[
        ZipEntry::new("metadata.json", br#"{"keras_version":"3.0.0"}"#),
        ZipEntry::new("config.json", config.as_bytes()).deflated(),
        ZipEntry::new("model.weights.h5", b"\x89HDF\r\n\x1a\n"),
    ]);
    let r = scan(&z);
    assert_flags(&r, "Lambda", Severity::Critical);
    let mut h5 = b"\x89HDF\r\n\x1a\n".to_vec();
    h5.extend(br#"model_config {"class_name": "Functional", "config": {"layers": [{"class_name": "Lambda", "config": {}}]}}"#);
    assert!(
        scan(&h5)
            .findings
            .iter()
            .any(|f| f.severity == Severity::Critical)
    );
}

#[test]
fn compressed_and_tar_containers() {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, &Asm::os_system()).unwrap();
    assert_flags(
        &scan(&gz.finish().unwrap()),
        "os.system",
        Severity::Critical,
    );

    let payload = Asm::os_system();
    let mut tar = vec![0u8; 512];
    tar[..6].copy_from_slice(b"pickle");
    tar[124..135].copy_from_slice(format!("{:011o}", payload.len()).as_bytes());
    tar[156] = b'0';
    tar[257..262].copy_from_slice(b"ustar");
    tar.extend(&payload);
    tar.resize(1024 + 1024, 0);
    assert_flags(&scan(&tar), "os.system", Severity::Critical);
}

#[test]
fn directory_scan_detects_by_content_not_extension() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("README.md"), "# model card\n").unwrap();
    std::fs::write(dir.path().join("config.json"), Asm::os_system()).unwrap();
    std::fs::write(
        dir.path().join("model.safetensors"),
        zip(&[ZipEntry::new("archive/data.pkl", &Asm::os_system())]),
    )
    .unwrap();
    let reports = scan::scan_paths(&[dir.path().to_path_buf()], &ScanOptions::default());
    assert_eq!(reports.len(), 3);
    let by = |n: &str| reports.iter().find(|r| r.path.ends_with(n)).unwrap();
    assert!(by("README.md").errors.is_empty());
    assert_eq!(by("config.json").max_severity(), Some(Severity::Critical));
    assert_eq!(
        by("model.safetensors").max_severity(),
        Some(Severity::Critical)
    );
}

#[test]
fn walker_memory_bounds() {
    let limits = Limits {
        max_stack: 100,
        ..Limits::default()
    };
    let d: Vec<u8> = std::iter::repeat_n(b'N', 1000).chain([b'.']).collect();
    assert!(matches!(
        pickle::walk_bytes(&d, &limits).error,
        Some(palisade_model::Error::Limit(_))
    ));
    let limits = Limits {
        max_memo: 10,
        ..Limits::default()
    };
    let mut a = Asm::new().proto(4).none();
    for _ in 0..20 {
        a = a.memoize();
    }
    assert!(matches!(
        pickle::walk_bytes(&a.stop().0, &limits).error,
        Some(palisade_model::Error::Limit(_))
    ));
}

#[test]
fn overlapping_entries_cannot_fan_out() {
    // Many central-directory records pointing at one stored nested zip.
    let inner = zip(&[ZipEntry::new("p.pkl", &Asm::os_system())]);
    let mut z = zip(&[ZipEntry::new("n.zip", &inner)]);
    let cd = z.len() - 22 - (46 + 5);
    let record = z[cd..cd + 46 + 5].to_vec();
    let eocd = z[z.len() - 22..].to_vec();
    z.truncate(cd);
    for _ in 0..50 {
        z.extend(&record);
    }
    let mut eocd = eocd;
    eocd[8..10].copy_from_slice(&50u16.to_le_bytes());
    eocd[10..12].copy_from_slice(&50u16.to_le_bytes());
    eocd[12..16].copy_from_slice(&((50 * record.len()) as u32).to_le_bytes());
    z.extend(eocd);
    let r = scan(&z);
    assert_flags(&r, "os.system", Severity::Critical);
    assert!(
        r.findings
            .iter()
            .any(|f| f.rule == "zip_overlapping_entries")
    );
    let n = r
        .findings
        .iter()
        .filter(|f| f.construct == "os.system")
        .count();
    assert_eq!(n, 1);
}

#[test]
fn real_torch_layout_text_members_are_not_pickles() {
    // `byteorder` holds "little": its first byte is the LIST opcode.
    let z = zip(&[
        ZipEntry::new("m/data.pkl", &Asm::torch_state_dict()),
        ZipEntry::new("m/byteorder", b"little"),
        ZipEntry::new("m/data/0", &[0x80, 0x02, 1, 2, 3, 4]),
        ZipEntry::new("m/version", b"3\n"),
        ZipEntry::new("m/.data/serialization_id", b"1234567890").deflated(),
    ]);
    clean(&scan(&z));
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("LICENSE"), "MIT License\n\nCopyright").unwrap();
    let reports = scan::scan_paths(&[dir.path().to_path_buf()], &ScanOptions::default());
    assert!(reports[0].errors.is_empty(), "{:?}", reports[0].errors);
}

fn joblib_wrapper(descr: &str, dims: &[u8], aligned: bool) -> Asm {
    let mut a = Asm::new()
        .proto(4)
        .global("joblib.numpy_pickle", "NumpyArrayWrapper")
        .empty_tuple()
        .newobj()
        .empty_dict()
        .mark()
        .s("dtype")
        .global("numpy", "dtype")
        .s(descr)
        .op(0x89)
        .op(0x88)
        .op(0x87)
        .reduce()
        .s("shape")
        .mark();
    for d in dims {
        a = a.int(*d);
    }
    a = a.tuple();
    if aligned {
        a = a.s("numpy_array_alignment_bytes").int(16);
    }
    a.op(b'u').build()
}

#[test]
fn joblib_inline_arrays_are_skipped_and_object_arrays_walked() {
    // 3x2 float64 with alignment padding: 1 length byte, 2 pad bytes, 48 data bytes
    // that would look like opcodes (`cos\nsystem\n`) if the walker did not skip them.
    let mut d = joblib_wrapper("f8", &[3, 2], true).0;
    d.extend([2, 0xff, 0xff]);
    let mut data = b"cos\nsystem\n".to_vec();
    data.resize(48, b'.');
    d.extend(&data);
    d.extend(Asm::new().stop().0);
    let r = scan(&d);
    clean(&r);

    // Without alignment, then a dangerous call after the array.
    let mut d = joblib_wrapper("<i4", &[2], false).0;
    d.extend([0u8; 8]);
    d.extend(
        Asm::new()
            .pop()
            .global("os", "system")
            .s("id")
            .tuple1()
            .reduce()
            .stop()
            .0,
    );
    assert_flags(&scan(&d), "os.system", Severity::Critical);

    // Object arrays hold a nested pickle right after BUILD.
    let mut d = joblib_wrapper("O8", &[1], true).0;
    d.extend(Asm::os_system());
    d.extend(Asm::new().stop().0);
    assert_flags(&scan(&d), "os.system", Severity::Critical);

    // zlib-compressed joblib.
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut z, &Asm::os_system()).unwrap();
    assert_flags(&scan(&z.finish().unwrap()), "os.system", Severity::Critical);
}

#[test]
fn nested_joblib_object_arrays_hit_the_depth_bound() {
    let mut d = Vec::new();
    for _ in 0..10_000 {
        d.extend(joblib_wrapper("O8", &[1], false).0);
    }
    let r = scan(&d);
    assert!(
        r.errors.iter().any(|e| e.contains("nested deeper")),
        "{:?}",
        r.errors
    );
}

#[cfg(unix)]
#[test]
fn symlinked_files_in_a_directory_are_scanned_through() {
    // The Hugging Face cache layout: snapshot entries are links to blobs.
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("blobs")).unwrap();
    std::fs::create_dir_all(dir.path().join("snap")).unwrap();
    std::fs::write(dir.path().join("blobs/abc"), Asm::os_system()).unwrap();
    std::os::unix::fs::symlink("../blobs/abc", dir.path().join("snap/pytorch_model.bin")).unwrap();
    std::os::unix::fs::symlink("../blobs", dir.path().join("snap/loop")).unwrap();
    let reports = scan::scan_paths(&[dir.path().join("snap")], &ScanOptions::default());
    let model = reports
        .iter()
        .find(|r| r.path.ends_with("pytorch_model.bin"))
        .unwrap();
    assert_eq!(model.max_severity(), Some(Severity::Critical));
    let link = reports.iter().find(|r| r.path.ends_with("loop")).unwrap();
    assert_eq!(link.max_severity(), Some(Severity::Medium));
}

#[test]
fn fuzz_regressions_do_not_overflow() {
    // model_containers crash-fa607113: GGUF tensor offset near u64::MAX
    // overflowed the bounds message (arithmetic overflow panic in debug).
    let mut d = b"GGUF".to_vec();
    d.extend([
        0x01, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0xe6, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x2f, 0x00, 0x00, 0xff,
    ]);
    let _ = scan(&d);
    // A central directory whose zip64 header offset is u64::MAX.
    let mut z = zip(&[ZipEntry::new("a.pkl", &Asm::os_system())]);
    let cd = z.len() - 22 - (46 + 5);
    z[cd + 42..cd + 46].copy_from_slice(&[0xff; 4]);
    z[cd + 30..cd + 32].copy_from_slice(&12u16.to_le_bytes());
    let tail = z.split_off(cd + 46 + 5);
    z.extend([1, 0, 8, 0]);
    z.extend([0xff; 8]);
    z.extend(tail);
    let n = z.len();
    let cd_size = u32::from_le_bytes(z[n - 10..n - 6].try_into().unwrap()) + 12;
    z[n - 10..n - 6].copy_from_slice(&cd_size.to_le_bytes());
    let r = scan(&z);
    // Still found through the local-header walk.
    assert_flags(&r, "os.system", Severity::Critical);
}

#[test]
fn deeply_nested_values_do_not_overflow_the_stack() {
    // Found by fuzzing (SIGSEGV): a million nested TUPLE1s built a
    // million-deep value whose recursive drop overflowed the stack.
    let mut d = vec![0x80, 4, b'N'];
    d.extend(std::iter::repeat_n(0x85, 1_000_000));
    d.push(b'.');
    clean(&scan(&d));
    // Dicts nested 200 000 deep: MARK 'k' MARK 'k' ... None DICT DICT ...
    let mut nested = vec![0x80, 4];
    for _ in 0..200_000 {
        nested.extend([b'(', 0x8c, 1, b'k']);
    }
    nested.push(b'N');
    nested.extend(std::iter::repeat_n(b'd', 200_000));
    nested.push(b'.');
    clean(&scan(&nested));
    // A dict stored in itself.
    let cyc = [0x80, 4, b'}', b'2', b'2', b's', b'.'];
    clean(&scan(&cyc));
}

#[test]
fn remote_code_in_a_model_directory_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("config.json"),
        r#"{"model_type": "x", "auto_map": {"AutoModel": "modeling_x.XModel", "AutoTokenizer": ["tok.T", null]}}"#,
    )
    .unwrap();
    std::fs::write(
        dir.path().join("modeling_x.py"),
        "import os\nos.system('id')\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("tokenizer_config.json"),
        r#"{"model_max_length": 512}"#,
    )
    .unwrap();
    let reports = scan::scan_paths(&[dir.path().to_path_buf()], &ScanOptions::default());
    let by = |n: &str| reports.iter().find(|r| r.path.ends_with(n)).unwrap();
    assert_flags(
        by("config.json"),
        "modeling_x.XModel, tok.T",
        Severity::High,
    );
    assert_eq!(by("modeling_x.py").max_severity(), Some(Severity::Medium));
    assert_eq!(
        by("tokenizer_config.json").max_severity(),
        Some(Severity::Info)
    );
    assert!(reports.iter().all(|r| r.errors.is_empty()));
}

#[test]
fn text_named_pickles_that_parse_are_still_flagged() {
    // Only a *failed* parse of a text-named file is treated as text.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("notes.txt"), b"cos\nsystem\n(S'id'\ntR.").unwrap();
    let reports = scan::scan_paths(&[dir.path().to_path_buf()], &ScanOptions::default());
    assert_flags(&reports[0], "os.system", Severity::Critical);
}

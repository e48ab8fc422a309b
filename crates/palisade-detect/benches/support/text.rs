//! Deterministic generator of realistic mixed text for the benchmarks:
//! English prose, chat-style requests, code and config, some Traditional and
//! Simplified Chinese, and personal data / secrets at roughly one value per
//! 400 bytes. Generated here so results never depend on external data.

const PROSE: &[&str] = &[
    "The quarterly report shows revenue grew in every region, driven by new enterprise contracts. ",
    "Please summarise the attached meeting notes and list the action items for the platform team. ",
    "We migrated the billing service to the new cluster last week; latency dropped by about a third. ",
    "Can you rewrite this paragraph in a friendlier tone for our customers in Hong Kong? ",
    "The model should refuse requests that ask for medical dosages without a prescription. ",
    "Remember to rotate credentials after the incident review and update the runbook accordingly. ",
    "客戶希望在下星期一之前收到報價單，請盡快安排。",
    "我们需要在月底前完成数据迁移，并确认所有备份都已验证。",
    "fn handle(req: Request) -> Result<Response, Error> { let user = auth(&req)?; Ok(render(user)) }\n",
    "config = { \"timeout_ms\": 2500, \"retries\": 3, \"region\": \"ap-east-1\", \"enabled\": true }\n",
    "SELECT id, created_at, status FROM orders WHERE status = 'open' ORDER BY created_at DESC LIMIT 50;\n",
];

const VALUES: &[&str] = &[
    "Contact Chan Tai Man at chan.taiman@example.com.hk or +852 9123 4567. ",
    "My card is 4111 1111 1111 1111 and my HKID is A123456(3). ",
    "請致電 9876 5432 聯絡陳先生。",
    "身份证号码 11010519491231002X，手机 13812345678。",
    "export GITHUB_TOKEN=ghp_R8mK2pQ9xL4vN7wT1yH6jB3cF5gD0sA2eZ8u\n",
    "Wire it to GB82 WEST 1234 5698 7654 32 by Friday. ",
    "The server at 10.20.30.40 rejected the login from Sarah Johnson. ",
    "Ship to Flat B, 8/F, Harbour View Building, 25 Des Voeux Road, Central. ",
];

/// Deterministic mixed text of `size` bytes (cut on a char boundary).
pub fn mixed(size: usize) -> String {
    let mut s = String::with_capacity(size + 256);
    let mut i = 0usize;
    let mut state = 0x2545_f491_4f6c_dd1du64;
    while s.len() < size {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        if state.is_multiple_of(5) {
            s.push_str(VALUES[i % VALUES.len()]);
        } else {
            s.push_str(PROSE[(state >> 8) as usize % PROSE.len()]);
        }
        i += 1;
    }
    let mut cut = size;
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    s.truncate(cut);
    s
}

/// `count` consecutive windows of about `size` bytes of `long` (each cut
/// inward to char boundaries), for scanning many different texts in turn.
/// Not every file that includes this module uses it.
#[allow(dead_code)]
pub fn windows(long: &str, count: usize, size: usize) -> Vec<&str> {
    (0..count)
        .map(|i| {
            let mut start = (i * size).min(long.len());
            while !long.is_char_boundary(start) {
                start += 1;
            }
            let mut end = (start + size).min(long.len());
            while !long.is_char_boundary(end) {
                end -= 1;
            }
            &long[start..end]
        })
        .collect()
}

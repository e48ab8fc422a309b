//! Byte classes of 64-byte blocks as bitmaps, so that a walk over a text can
//! jump from one byte of interest to the next (`trailing_zeros`) instead of
//! testing every byte. On x86-64 sixteen bytes are classified per SSE2
//! step (the baseline of that target; through `safe_arch`, since the
//! workspace forbids `unsafe`); elsewhere byte by byte.

/// Bytes of ASCII words: letters, digits and `_`.
pub(crate) const WORD: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        t[b] = c.is_ascii_alphanumeric() || c == b'_';
        b += 1;
    }
    t
};

/// The (up to) 64 bytes at the start of `b` as a block; bytes past the end
/// of `b` are zero, which no class below contains.
#[inline]
fn block_of<R>(b: &[u8], classify: impl Fn(&[u8; 64]) -> R) -> R {
    match b.first_chunk::<64>() {
        Some(block) => classify(block),
        None => {
            let mut block = [0u8; 64];
            let len = b.len().min(64);
            block[..len].copy_from_slice(&b[..len]);
            classify(&block)
        }
    }
}

/// Bitmaps of the (up to) 64 bytes at the start of `b`: bit `j` of the
/// first is set when byte `j` is a word byte ([`WORD`]), of the second when
/// it is the lead byte of a non-ASCII character (`0xC0` and above).
#[inline]
pub(crate) fn words_and_leads(b: &[u8]) -> (u64, u64) {
    block_of(b, |block| {
        let mut word = 0u64;
        let mut lead = 0u64;
        for (k, chunk) in block.chunks_exact(16).enumerate() {
            let (w, l, _) = classify16(chunk);
            word |= u64::from(w) << (16 * k);
            lead |= u64::from(l) << (16 * k);
        }
        (word, lead)
    })
}

/// Bitmap of the lead bytes among the (up to) 64 bytes at the start of `b`
/// that do not start a character of U+4000–U+9FFF (lead bytes `0xE4` to
/// `0xE9`: CJK ideographs, which the Unicode passes skip).
#[inline]
pub(crate) fn leads_outside_cjk(b: &[u8]) -> u64 {
    block_of(b, |block| {
        let mut out = 0u64;
        for (k, chunk) in block.chunks_exact(16).enumerate() {
            let (_, lead, cjk) = classify16(chunk);
            out |= u64::from(lead & !cjk) << (16 * k);
        }
        out
    })
}

/// For 16 bytes: the word bytes, the lead bytes, and the bytes `0xE4` to
/// `0xE9`, as 16-bit masks.
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
#[inline(always)]
fn classify16(chunk: &[u8]) -> (u16, u16, u16) {
    use safe_arch::{
        add_i8_m128i, bitor_m128i, cmp_eq_mask_i8_m128i, cmp_lt_mask_i8_m128i,
        load_unaligned_m128i, move_mask_i8_m128i, set_splat_i8_m128i,
    };
    // Signed lanes: adding `0x80 - lo` moves `lo..` to the bottom of the
    // i8 range, so "within `w` of `lo`" is one signed `< -128 + w`.
    let shift = |lo: u8| set_splat_i8_m128i(0x80u8.wrapping_sub(lo) as i8);
    let below = |w: u8| set_splat_i8_m128i((i32::from(w) - 128) as i8);
    let mut lane = [0u8; 16];
    lane.copy_from_slice(chunk);
    let v = load_unaligned_m128i(&lane);
    let digit = cmp_lt_mask_i8_m128i(add_i8_m128i(v, shift(b'0')), below(10));
    let folded = bitor_m128i(v, set_splat_i8_m128i(0x20));
    let letter = cmp_lt_mask_i8_m128i(add_i8_m128i(folded, shift(b'a')), below(26));
    let under = cmp_eq_mask_i8_m128i(v, set_splat_i8_m128i(b'_' as i8));
    let word = move_mask_i8_m128i(bitor_m128i(bitor_m128i(digit, letter), under));
    // Both top bits set: the high bit of `v` and of `v + v`.
    let lead = move_mask_i8_m128i(v) & move_mask_i8_m128i(add_i8_m128i(v, v));
    let cjk = move_mask_i8_m128i(cmp_lt_mask_i8_m128i(add_i8_m128i(v, shift(0xE4)), below(6)));
    (word as u16, lead as u16, cjk as u16)
}

/// [`classify16`] byte by byte (targets without SSE2).
#[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
#[inline(always)]
fn classify16(chunk: &[u8]) -> (u16, u16, u16) {
    let (mut word, mut lead, mut cjk) = (0u16, 0u16, 0u16);
    for (j, &c) in chunk.iter().enumerate() {
        word |= u16::from(WORD[c as usize]) << j;
        lead |= u16::from(c >= 0xC0) << j;
        cjk |= u16::from((0xE4..=0xE9).contains(&c)) << j;
    }
    (word, lead, cjk)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bitmaps_agree_with_the_byte_rules() {
        // Every byte value in every lane of a block; the other lanes hold a
        // byte of no class.
        for c in 0..=255u8 {
            for lane in 0..64 {
                let mut block = [b' '; 64];
                block[lane] = c;
                let (word, lead) = words_and_leads(&block);
                let bit = |on: bool| u64::from(on) << lane;
                assert_eq!(word, bit(WORD[c as usize]), "byte {c:#x} lane {lane}");
                assert_eq!(lead, bit(c >= 0xC0), "byte {c:#x} lane {lane}");
                let outside = c >= 0xC0 && !(0xE4..=0xE9).contains(&c);
                assert_eq!(
                    leads_outside_cjk(&block),
                    bit(outside),
                    "byte {c:#x} lane {lane}"
                );
            }
        }
    }

    #[test]
    fn short_blocks_count_nothing_past_their_end() {
        assert_eq!(words_and_leads(b"ab"), (0b11, 0));
        assert_eq!(words_and_leads("中".as_bytes()), (0, 1));
        assert_eq!(leads_outside_cjk("中é".as_bytes()), 0b1000);
        assert_eq!(words_and_leads(b""), (0, 0));
    }
}

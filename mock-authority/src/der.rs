//! Just enough DER to find a certificate's SubjectPublicKeyInfo (client certificate checks).

/// One TLV: (tag, content, whole element, rest).
type Tlv<'a> = (u8, &'a [u8], &'a [u8], &'a [u8]);

fn tlv(input: &[u8]) -> Option<Tlv<'_>> {
    let tag = *input.first()?;
    let first = *input.get(1)?;
    let (len, hdr) = if first < 0x80 {
        (first as usize, 2)
    } else {
        let n = (first & 0x7f) as usize;
        if n == 0 || n > 4 {
            return None;
        }
        let mut len = 0usize;
        for i in 0..n {
            len = (len << 8) | *input.get(2 + i)? as usize;
        }
        (len, 2 + n)
    };
    let end = hdr.checked_add(len)?;
    if end > input.len() {
        return None;
    }
    Some((tag, &input[hdr..end], &input[..end], &input[end..]))
}

/// The SubjectPublicKeyInfo element (DER, with its header) of an X.509 certificate.
pub fn certificate_spki(cert: &[u8]) -> Option<&[u8]> {
    let (_, cert_body, _, _) = tlv(cert)?; // Certificate SEQUENCE
    let (_, mut tbs, _, _) = tlv(cert_body)?; // tbsCertificate SEQUENCE
                                              // [0] version is optional.
    if tbs.first() == Some(&0xa0) {
        tbs = tlv(tbs)?.3;
    }
    // serialNumber, signature, issuer, validity, subject
    for _ in 0..5 {
        tbs = tlv(tbs)?.3;
    }
    let (tag, _, spki, _) = tlv(tbs)?;
    (tag == 0x30).then_some(spki)
}

/// The content of the subjectPublicKey BIT STRING of a SubjectPublicKeyInfo (without the
/// unused-bits byte).
pub fn spki_bit_string(spki: &[u8]) -> Option<&[u8]> {
    let (_, body, _, _) = tlv(spki)?;
    let rest = tlv(body)?.3; // algorithm
    let (tag, bits, _, _) = tlv(rest)?;
    (tag == 0x03 && bits.first() == Some(&0)).then(|| &bits[1..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncated_input_is_none() {
        assert!(certificate_spki(&[0x30, 0x82, 0x01]).is_none());
        assert!(certificate_spki(&[]).is_none());
        assert!(spki_bit_string(&[0x30, 0x00]).is_none());
    }
}

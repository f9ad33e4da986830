namespace LoKO.Engine.Tests.Preprocessing;

/// <summary>
/// Writes minimal valid baseline JPEG files by hand for decoder tests: one grayscale component,
/// each 8×8 block a single flat value (DC coefficient only, quantizer 1).
/// </summary>
internal static class TestJpeg
{
    // The standard luminance DC Huffman table (ITU T.81 table K.3).
    private static readonly byte[] DcCounts = [0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0];
    private static readonly byte[] DcSymbols = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];

    /// <param name="blockValues">One gray value per 8×8 block, row-major over the block grid.</param>
    public static byte[] FlatBlocks(int blocksWide, int blocksHigh, byte[] blockValues)
    {
        var jpeg = new List<byte> { 0xFF, 0xD8 };

        Segment(jpeg, 0xDB, [0x00, .. Enumerable.Repeat((byte)1, 64)]); // quantizer: all 1
        Segment(jpeg, 0xC0,
        [
            8, (byte)(8 * blocksHigh >> 8), (byte)(8 * blocksHigh), (byte)(8 * blocksWide >> 8), (byte)(8 * blocksWide),
            1, 1, 0x11, 0,
        ]);
        Segment(jpeg, 0xC4, [0x00, .. DcCounts, .. DcSymbols]);
        // AC table with a single one-bit code, "0" = end of block.
        Segment(jpeg, 0xC4, [0x10, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x00]);
        Segment(jpeg, 0xDA, [1, 1, 0x00, 0, 63, 0]);

        var dcCodes = CanonicalCodes(DcCounts, DcSymbols);
        var bits = new BitWriter();
        var previous = 0;
        foreach (var value in blockValues)
        {
            // Flat block of v after the -128 level shift: DC = 8·(v − 128).
            var dc = 8 * (value - 128);
            var diff = dc - previous;
            previous = dc;
            var category = diff == 0 ? 0 : 32 - int.LeadingZeroCount(Math.Abs(diff));
            var (code, length) = dcCodes[category];
            bits.Write(code, length);
            if (category > 0)
                bits.Write(diff > 0 ? diff : diff + (1 << category) - 1, category);
            bits.Write(0, 1); // end of block
        }
        jpeg.AddRange(bits.Finish());
        jpeg.AddRange([0xFF, 0xD9]);
        return jpeg.ToArray();
    }

    private static void Segment(List<byte> jpeg, byte marker, byte[] payload)
    {
        var length = payload.Length + 2;
        jpeg.AddRange([0xFF, marker, (byte)(length >> 8), (byte)length]);
        jpeg.AddRange(payload);
    }

    private static Dictionary<int, (int Code, int Length)> CanonicalCodes(byte[] counts, byte[] symbols)
    {
        var codes = new Dictionary<int, (int, int)>();
        int code = 0, k = 0;
        for (var length = 1; length <= 16; length++)
        {
            for (var i = 0; i < counts[length - 1]; i++)
                codes[symbols[k++]] = (code++, length);
            code <<= 1;
        }
        return codes;
    }

    private sealed class BitWriter
    {
        private readonly List<byte> _bytes = [];
        private int _current;
        private int _filled;

        public void Write(int value, int length)
        {
            for (var b = length - 1; b >= 0; b--)
            {
                _current = (_current << 1) | ((value >> b) & 1);
                if (++_filled == 8)
                    Emit();
            }
        }

        public List<byte> Finish()
        {
            while (_filled != 0)
                Write(1, 1); // pad with ones
            return _bytes;
        }

        private void Emit()
        {
            _bytes.Add((byte)_current);
            if (_current == 0xFF)
                _bytes.Add(0x00); // byte stuffing
            _current = 0;
            _filled = 0;
        }
    }
}

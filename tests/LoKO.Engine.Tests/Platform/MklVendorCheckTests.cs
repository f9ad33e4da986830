using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;
using LoKO.Engine.Platform;
using static TorchSharp.torch;

namespace LoKO.Engine.Tests.Platform;

/// <summary>
/// The jump-slot reader finds libtorch_cpu's entry for MKL's vendor check in a writable page and nothing for a name
/// the library does not have; once applied, the entry MKL calls answers 1 (so on any vendor's CPU MKL picks kernels
/// by the CPU's features), and products still equal a double-precision reference.
/// </summary>
public class MklVendorCheckTests
{
    const string Symbol = MklVendorCheck.Symbol;

    static (IntPtr Real, string Path, IntPtr Base) Library() =>
        MklVendorCheck.Library() ?? throw new Xunit.Sdk.XunitException("this LibTorch's MKL should export its vendor check");

    [Fact]
    public void TheVendorCheckHasAWritableJumpSlotInLibTorchCpu()
    {
        var (real, path, @base) = Library();
        var image = ElfJumpSlots.Read(path, Symbol);
        Assert.NotNull(image.SlotOffset);
        Assert.True(image.SlotWritable, "the entry lies outside GNU_RELRO, in a writable segment");
        Assert.InRange(image.SlotOffset!.Value, 1UL, image.MappedBytes - 8);
        // The exported function itself lies inside the same mapped span.
        Assert.InRange((ulong)(real - @base), 1UL, image.MappedBytes);

        Assert.Null(ElfJumpSlots.Read(path, "loko_no_such_function").SlotOffset);
    }

    [Fact]
    public void AFileThatIsNotElfIsRefusedByName()
    {
        var file = Path.GetTempFileName();
        try
        {
            File.WriteAllText(file, new string('x', 100));
            var e = Assert.Throws<InvalidDataException>(() => ElfJumpSlots.Read(file, Symbol));
            Assert.Contains(file, e.Message);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public void AfterApplyTheEntryMklCallsAnswersOneAndProductsStayExact()
    {
        // The platform LoKO ships for; MKL's own answer on this CPU may be 0 (another vendor) or 1 (Intel).
        Assert.True(OperatingSystem.IsLinux() && RuntimeInformation.ProcessArchitecture == Architecture.X64 && Avx2.IsSupported);
        Assert.True(MklVendorCheck.Apply(), MklVendorCheck.Outcome);
        Assert.Equal(1, MklVendorCheck.AnswerNow());

        using var scope = NewDisposeScope();
        var gen = new Generator(3);
        var a = randn(77, 384, generator: gen);
        var b = randn(384, 1536, generator: gen);
        var exact = a.to_type(ScalarType.Float64).matmul(b.to_type(ScalarType.Float64));
        var ours = a.matmul(b).to_type(ScalarType.Float64);
        double scale = exact.abs().max().item<double>();
        Assert.True((ours - exact).abs().max().item<double>() < 1e-5 * scale);
    }
}

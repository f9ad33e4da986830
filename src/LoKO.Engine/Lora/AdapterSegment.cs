namespace LoKO.Engine.Lora;

/// <summary>One named piece of θ (a site's A or B, the head's weight or bias): where it sits and its shape.</summary>
public sealed record AdapterSegment(string Name, long Offset, long[] Shape)
{
    public long Length => Shape.Aggregate(1L, (a, b) => a * b);
}

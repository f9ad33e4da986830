namespace LoKO.Engine;
internal static class Placeholder { }

namespace LoKO.Engine.Data;

/// <summary>One Debian package: its name, its archive section (the label) and its description as plain text.</summary>
public sealed record DebianPackage(string Package, string Section, string Text);

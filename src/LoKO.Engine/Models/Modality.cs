namespace LoKO.Engine.Models;

public enum Modality { Text, Image }

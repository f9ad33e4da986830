namespace LoKO.Server.Security;

/// <summary>No key, or a key that is neither the admin key nor any tenant's (401 / UNAUTHENTICATED).</summary>
public sealed class UnauthenticatedException(string message) : Exception(message);

/// <summary>A valid key that does not reach the resource (403 / PERMISSION_DENIED).</summary>
public sealed class ForbiddenException(string message) : Exception(message);

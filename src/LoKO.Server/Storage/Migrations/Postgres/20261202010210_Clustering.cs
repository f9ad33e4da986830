using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace LoKO.Server.Storage.Migrations.Postgres
{
    /// <inheritdoc />
    public partial class Clustering : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<long>(
                name: "Epoch",
                table: "tenants",
                type: "bigint",
                nullable: false,
                defaultValue: 0L);

            migrationBuilder.CreateTable(
                name: "checkpoint_blobs",
                columns: table => new
                {
                    Name = table.Column<string>(type: "text", nullable: false),
                    TenantId = table.Column<string>(type: "character varying(64)", nullable: false),
                    Version = table.Column<long>(type: "bigint", nullable: true),
                    Data = table.Column<byte[]>(type: "bytea", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_checkpoint_blobs", x => x.Name);
                    table.ForeignKey(
                        name: "FK_checkpoint_blobs_tenants_TenantId",
                        column: x => x.TenantId,
                        principalTable: "tenants",
                        principalColumn: "TenantId",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateIndex(
                name: "IX_checkpoint_blobs_TenantId_Version",
                table: "checkpoint_blobs",
                columns: new[] { "TenantId", "Version" });

            migrationBuilder.Sql(OrleansMembershipSchema.Version(1));
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql(OrleansMembershipSchema.DropVersion1);

            migrationBuilder.DropTable(
                name: "checkpoint_blobs");

            migrationBuilder.DropColumn(
                name: "Epoch",
                table: "tenants");
        }
    }
}

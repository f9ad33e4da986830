using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace LoKO.Server.Storage.Migrations.Postgres
{
    /// <inheritdoc />
    public partial class LabelAdditions : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<string>(
                name: "LabelAdditionsJson",
                table: "tenants",
                type: "text",
                nullable: true);

            migrationBuilder.AddColumn<int>(
                name: "LabelCount",
                table: "checkpoints",
                type: "integer",
                nullable: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropColumn(
                name: "LabelAdditionsJson",
                table: "tenants");

            migrationBuilder.DropColumn(
                name: "LabelCount",
                table: "checkpoints");
        }
    }
}
